import { resolve } from 'node:path';
import { cacheStats, pruneCache } from '@anymc3d/core/features';
import { InputError } from '@anymc3d/core/util';
import type { Argv, CommandModule } from 'yargs';
import type { GlobalFlags } from './task-flags.js';

interface CacheArgs extends GlobalFlags {
  cache?: string;
  'older-than'?: number;
  'dry-run'?: boolean;
}

function cacheRootOf(a: CacheArgs): string {
  const root = a.cache ?? process.env.ANYMC3D_CACHE;
  if (!root) throw new InputError('--cache', 'name the feature cache folder (or set ANYMC3D_CACHE)');
  return resolve(root);
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const day = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 10));

const statsCommand: CommandModule<GlobalFlags, CacheArgs> = {
  command: 'stats',
  describe: 'Entries, size and age of each backbone-and-recipe folder of a feature cache',
  builder: (y) => y.option('cache', { type: 'string', describe: 'The cache folder (default $ANYMC3D_CACHE)' }) as never,
  handler: async (a) => {
    const root = cacheRootOf(a);
    const folders = await cacheStats(root);
    const lines = [
      `| folder (weights-recipe) | entries | MiB | oldest | newest | leftover temp files |`,
      `|---|---|---|---|---|---|`,
      ...folders.map(
        (f) => `| ${f.name} | ${f.entries} | ${mib(f.bytes)} | ${day(f.oldest)} | ${day(f.newest)} | ${f.leftovers} |`,
      ),
    ];
    const total = folders.reduce((n, f) => n + f.bytes, 0);
    const entries = folders.reduce((n, f) => n + f.entries, 0);
    process.stdout.write(
      `${root}\n\n${lines.join('\n')}\n\n${folders.length} folder(s), ${entries} entries, ${mib(total)} MiB\n`,
    );
  },
};

const pruneCommand: CommandModule<GlobalFlags, CacheArgs> = {
  command: 'prune',
  describe:
    'Remove entries written more than --older-than days ago (recomputed when next needed) and killed writers’ temp files',
  builder: (y) =>
    y
      .option('cache', { type: 'string', describe: 'The cache folder (default $ANYMC3D_CACHE)' })
      .option('older-than', { type: 'number', demandOption: true, describe: 'Age in days' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would go, remove nothing' }) as never,
  handler: async (a) => {
    const root = cacheRootOf(a);
    const r = await pruneCache(root, { olderThanDays: a['older-than']!, dryRun: a['dry-run'] ?? false });
    if (!a.quiet)
      process.stdout.write(
        `${a['dry-run'] ? 'would remove' : 'removed'} ${r.removed} file(s), ${mib(r.bytes)} MiB; ${r.folders} empty folder(s) ${a['dry-run'] ? 'would go' : 'gone'}\n`,
      );
  },
};

export const cacheCommand: CommandModule<GlobalFlags, GlobalFlags> = {
  command: 'cache <command>',
  describe: 'Look after a feature cache shared by many runs and workers: stats, prune',
  builder: (y: Argv<GlobalFlags>) =>
    y
      .command(statsCommand as never)
      .command(pruneCommand as never)
      .demandCommand(1, 'Name an action: stats or prune') as never,
  handler: () => undefined,
};
