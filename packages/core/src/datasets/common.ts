import { readdir, stat } from 'node:fs/promises';
import type { TaskCard } from '../task/card.js';
import type { Split } from '../task/manifest.js';
import { InputError } from '../util/errors.js';
import { Random } from '../util/random.js';

/**
 * How cases without an official split are assigned one: by a seeded hash of their group (the
 * patient), so every volume of a patient lands in the same split, the assignment does not depend
 * on row order, and adding patients never moves the others.
 */
export interface SplitOptions {
  /** Share of patients put in val (default 0.1). */
  val?: number;
  /** Share of patients put in test (default 0.2). */
  test?: number;
  /** Seed of the hash (default 0). */
  seed?: number;
}

export function checkSplitOptions(source: string, options: SplitOptions = {}): Required<SplitOptions> {
  const val = options.val ?? 0.1;
  const test = options.test ?? 0.2;
  const seed = options.seed ?? 0;
  const share = (x: number) => Number.isFinite(x) && x >= 0 && x < 1;
  if (!share(val) || !share(test) || val + test >= 1) {
    throw new InputError(
      source,
      `split shares must be in [0, 1) and leave some for train, got val ${val}, test ${test}`,
    );
  }
  if (!Number.isInteger(seed)) throw new InputError(source, `the split seed must be an integer, got ${seed}`);
  return { val, test, seed };
}

/** The split of one group (patient) under `options`. */
export function splitOf(group: string, options: Required<SplitOptions>): Split {
  const u = Random.fromString(options.seed, group).next();
  if (u < options.test) return 'test';
  if (u < options.test + options.val) return 'val';
  return 'train';
}

const MAX_LISTED = 10;

/** Collects problems found while reading a dataset and reports them together, as the manifest reader does. */
export class Problems {
  readonly list: string[] = [];

  constructor(readonly source: string) {}

  add(problem: string): void {
    this.list.push(problem);
  }

  /** Throws one InputError naming the source and the first problems, if there are any. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const more = this.list.length > MAX_LISTED ? `; … and ${this.list.length - MAX_LISTED} more problems` : '';
    throw new InputError(this.source, `${this.list.slice(0, MAX_LISTED).join('; ')}${more}`);
  }
}

/** A card a dataset reader can fill: not a template, and naming the reader. */
export function checkCardFor(reader: string, card: TaskCard, source: string): void {
  if (card.labels.length === 0) {
    throw new InputError(
      source,
      `task card "${card.id}" lists no labels: it is a template for data that is not public; copy it and list your labels`,
    );
  }
  if (card.data.reader !== undefined && card.data.reader !== reader) {
    throw new InputError(
      source,
      `task card "${card.id}" is read by the "${card.data.reader}" reader, not by "${reader}"`,
    );
  }
}

/** The source columns whose 1 makes each card label 1 (the label's own name by default). */
export function labelColumns(card: TaskCard): string[][] {
  return card.labels.map((label) => card.data.labelColumns?.[label] ?? [label]);
}

/** What is at a path: a file, a folder, or nothing. */
export async function kindOf(path: string): Promise<'file' | 'folder' | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'folder' : null;
  } catch {
    return null;
  }
}

/** Folder entries, or null when the folder cannot be read. */
export async function entriesOf(path: string): Promise<string[] | null> {
  try {
    return await readdir(path);
  } catch {
    return null;
  }
}
