import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { type PlotSpec, renderPlot } from './render.js';

/** The three files one plot leaves: `<name>.vl.json` (the spec), `<name>.svg`, `<name>.png`. */
export interface PlotFiles {
  spec: string;
  svg: string;
  png: string;
}

/** Renders `spec` and writes its spec, SVG and PNG beside each other (each atomically). */
export async function writePlot(dir: string, name: string, spec: PlotSpec): Promise<PlotFiles> {
  const plot = await renderPlot(spec);
  const files = { spec: join(dir, `${name}.vl.json`), svg: join(dir, `${name}.svg`), png: join(dir, `${name}.png`) };
  await writeFileAtomic(files.spec, `${JSON.stringify(spec, null, 1)}\n`);
  await writeFileAtomic(files.svg, plot.svg);
  await writeFileAtomic(files.png, plot.png);
  return files;
}
