import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN.md's dependency direction: apps and cli → adapters → core, never back. Checked on the
 * source text so a violation fails here before it can become a cycle in the build.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts)$/.test(name)) out.push(path);
  }
  return out;
}

function importsOf(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    specs.push((m[1] ?? m[2]) as string);
  }
  return specs;
}

function violations(pkgDir: string, forbidden: RegExp): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(join(root, pkgDir, 'src'))) {
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (forbidden.test(spec)) found.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  return found;
}

describe('package dependency direction (docs/DESIGN.md)', () => {
  it('core imports neither adapters, cli nor an app, nor reaches outside its src', () => {
    expect(
      violations(
        'packages/core',
        /^(@anymc3d\/(adapters|challenge-vlm3d|heatmap-server)|anymc3d)(\/|$)|^\.\.\/\.\.\/\.\./,
      ),
    ).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'packages/core/package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies ?? {}).filter((d) => d.startsWith('@anymc3d/') || d === 'anymc3d')).toEqual([]);
  });

  it('adapters import neither cli nor an app', () => {
    expect(violations('packages/adapters', /^(@anymc3d\/(challenge-vlm3d|heatmap-server)|anymc3d)(\/|$)/)).toEqual([]);
  });

  it('apps and cli use package exports, never another package’s src', () => {
    for (const dir of ['packages/cli', 'apps/challenge-vlm3d', 'apps/heatmap-server']) {
      expect(violations(dir, /\/src\/|^\.\.\/\.\.\/(packages|apps)\//)).toEqual([]);
    }
  });

  it('the checker itself catches a forbidden import', () => {
    const fake = 'import { x } from \'@anymc3d/adapters\';\nexport { y } from "anymc3d";';
    expect(importsOf(`${fake}\nconst m = await import('../../packages/cli/src/x.js');`)).toEqual([
      '@anymc3d/adapters',
      'anymc3d',
      '../../packages/cli/src/x.js',
    ]);
  });
});

/**
 * Core's inner layers (docs/DESIGN.md): a folder imports only folders of its own or a lower rank,
 * so the case pipeline reads one way — utilities, graph and files; volumes, features, metrics and
 * augmentation; the backbone contract; slicing and embedding; plugins and their recipe; data, tasks,
 * training, heatmaps; and the workflows (and benchmark) that the CLI and apps call on top.
 */
const CORE_LAYERS: Record<string, number> = {
  util: 0,
  graph: 0,
  io: 0,
  volume: 1,
  features: 1,
  metrics: 1,
  augment: 1,
  plot: 1,
  distributed: 1,
  backbone: 2,
  pipeline: 3,
  plugin: 4,
  datasets: 5,
  task: 5,
  train: 5,
  heatmap: 5,
  testing: 5,
  workflows: 6,
  benchmark: 6,
};

describe('core layers (docs/DESIGN.md)', () => {
  it('every core folder has a layer, and none imports a folder above its own', () => {
    const src = join(root, 'packages/core/src');
    const problems: string[] = [];
    for (const file of sourceFiles(src)) {
      const rel = relative(src, file);
      if (!rel.includes('/')) continue; // index.ts, version.ts: the package's front
      const folder = rel.split('/')[0]!;
      const rank = CORE_LAYERS[folder];
      if (rank === undefined) {
        problems.push(`${rel}: folder "${folder}" has no layer in CORE_LAYERS`);
        continue;
      }
      if (/\.test(-helpers)?\.ts$/.test(rel)) continue; // tests may reach anywhere
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const m = /^\.\.\/([a-z-]+)\//.exec(spec);
        if (!m) continue;
        const target = CORE_LAYERS[m[1]!];
        if (target === undefined || target > rank) problems.push(`${rel} (${folder}, layer ${rank}) imports ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
