import { dirname, relative, resolve } from 'node:path';
import type { Manifest } from '../task/manifest.js';
import { writeFileAtomic } from '../util/atomic.js';

const quote = (field: string) => (/[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field);

/**
 * Writes a manifest as the CSV `readManifest` reads back (id, split, `image` or `image_<view>`,
 * `mask` when any case has one, one 0/1 column per card label), atomically. Paths are written
 * relative to the CSV's folder so the data and its manifest can move together.
 */
export async function writeManifestCsv(manifest: Manifest, path: string): Promise<void> {
  const { card, cases } = manifest;
  const folder = dirname(resolve(path));
  const rel = (p: string) => relative(folder, p) || '.';
  const shared = cases.every((c) => c.images.every((p) => p === c.images[0]));
  const withMask = cases.some((c) => c.mask !== null);
  const header = [
    'id',
    'split',
    ...(shared ? ['image'] : card.views.map((v) => `image_${v.name}`)),
    ...(withMask ? ['mask'] : []),
    ...card.labels,
  ];
  const lines = [header.map(quote).join(',')];
  for (const c of cases) {
    const fields = [
      c.id,
      c.split,
      ...(shared ? [rel(c.images[0]!)] : c.images.map(rel)),
      ...(withMask ? [c.mask === null ? '' : rel(c.mask)] : []),
      ...Array.from(c.labels, String),
    ];
    lines.push(fields.map(quote).join(','));
  }
  await writeFileAtomic(path, `${lines.join('\n')}\n`);
}
