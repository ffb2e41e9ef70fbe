import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { parseCsv } from '../datasets/csv.js';
import { imageFileOf } from '../datasets/image-ref.js';
import { InputError } from '../util/errors.js';
import type { TaskCard } from './card.js';

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

/** One case of a dataset manifest, checked against its task card. */
export interface ManifestCase {
  id: string;
  split: Split;
  /** Absolute image path per view, in the card's view order (the same file may serve several views). */
  images: string[];
  mask: string | null;
  /** 0/1 per card label, in card order (one-hot for multi-class). */
  labels: Uint8Array;
  /** The class index for a multi-class task, else null. */
  classIndex: number | null;
}

export interface Manifest {
  source: string;
  card: TaskCard;
  cases: ManifestCase[];
}

export interface ManifestOptions {
  /** Splits that must hold at least one case (default train and val, what training needs). */
  requireSplits?: readonly Split[];
  /** Check that every image and mask file exists (default true). */
  checkFiles?: boolean;
}

/** A case as read from CSV or JSON, before any check; `where` says where it is in the file. */
interface RawCase {
  where: string;
  id: unknown;
  split: unknown;
  /** View name → path; the key '' means one volume for every view. */
  images: Map<string, unknown>;
  mask: unknown;
  labels: Map<string, unknown>;
  /** The class name of a multi-class case given as a single 'label' field. */
  className: unknown;
}

const MAX_LISTED = 10;

function fail(source: string, problems: string[]): never {
  const more = problems.length > MAX_LISTED ? `; … and ${problems.length - MAX_LISTED} more problems` : '';
  throw new InputError(source, `${problems.slice(0, MAX_LISTED).join('; ')}${more}`);
}

const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

function csvCases(text: string, source: string, card: TaskCard): RawCase[] {
  const table = parseCsv(text, source);
  const problems: string[] = [];
  const labels = new Set(card.labels);
  const views = new Set(card.views.map((v) => v.name));
  const header = table.header;
  for (const required of ['id', 'split']) {
    if (!header.includes(required)) problems.push(`the header has no "${required}" column`);
  }
  const perView = header.filter((h) => h.startsWith('image_'));
  if (header.includes('image') && perView.length > 0) {
    problems.push('use either one "image" column (all views from one volume) or "image_<view>" columns, not both');
  } else if (!header.includes('image')) {
    for (const view of card.views) {
      if (!header.includes(`image_${view.name}`)) problems.push(`the header has no "image_${view.name}" column`);
    }
  }
  const oneLabelColumn = card.kind === 'multiclass' && header.includes('label');
  if (!oneLabelColumn) {
    for (const label of card.labels) {
      if (!header.includes(label)) problems.push(`the header has no column for label "${label}"`);
    }
  }
  for (const h of header) {
    if (['id', 'split', 'image', 'mask'].includes(h) || labels.has(h) || (h === 'label' && oneLabelColumn)) continue;
    if (h.startsWith('image_') && views.has(h.slice(6))) continue;
    if (h.startsWith('image_')) problems.push(`column "${h}" names no view of the card (${[...views].join(', ')})`);
    else problems.push(`column "${h}" is not a label of the card (${card.labels.join(', ')}) nor a manifest field`);
  }
  if (problems.length > 0) fail(source, problems);
  return table.rows.map((row, r) => {
    const field = (name: string) => {
      const k = header.indexOf(name);
      return k < 0 ? undefined : row[k]!.trim();
    };
    const images = new Map<string, unknown>();
    if (header.includes('image')) images.set('', field('image'));
    else for (const view of card.views) images.set(view.name, field(`image_${view.name}`));
    return {
      where: `line ${table.lines[r]}`,
      id: field('id'),
      split: field('split'),
      images,
      mask: field('mask'),
      labels: new Map(oneLabelColumn ? [] : card.labels.map((l) => [l, field(l)])),
      className: oneLabelColumn ? field('label') : undefined,
    };
  });
}

function jsonCases(text: string, source: string): RawCase[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new InputError(source, `the manifest is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const list = Array.isArray(doc) ? doc : (doc as { cases?: unknown } | null)?.cases;
  if (!Array.isArray(list)) throw new InputError(source, 'a JSON manifest is a list of cases or {"cases": [...]}');
  return list.map((entry, i): RawCase => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const images = new Map<string, unknown>();
    if (e.image !== undefined) images.set('', e.image);
    if (typeof e.images === 'object' && e.images !== null) {
      for (const [view, path] of Object.entries(e.images)) images.set(view, path);
    }
    const labels =
      typeof e.labels === 'object' && e.labels !== null
        ? new Map(Object.entries(e.labels))
        : new Map<string, unknown>();
    return { where: `entry ${i + 1}`, id: e.id, split: e.split, images, mask: e.mask, labels, className: e.label };
  });
}

/** Checks one case against the card; paths are resolved but not yet looked up on disk. */
function checkCase(raw: RawCase, card: TaskCard, folder: string, problems: string[]): ManifestCase | null {
  const name = typeof raw.id === 'string' && raw.id.trim() !== '' ? raw.id.trim() : null;
  const at = name === null ? raw.where : `${raw.where} (case "${name}")`;
  const before = problems.length;
  const problem = (text: string) => problems.push(`${at}: ${text}`);
  if (name === null) problem('the case id is missing');
  const split = typeof raw.split === 'string' ? raw.split.trim() : raw.split;
  if (!SPLITS.includes(split as Split)) {
    problem(
      `split must be one of ${SPLITS.join(', ')}, got ${blank(split) ? 'an empty value' : JSON.stringify(split)}`,
    );
  }

  const images: string[] = [];
  const shared = raw.images.get('');
  if (raw.images.has('') && raw.images.size > 1) problem('give "image" or one image per view, not both');
  else if (raw.images.has('')) {
    if (blank(shared) || typeof shared !== 'string') problem('the image path is empty');
    else for (const _ of card.views) images.push(resolve(folder, shared.trim()));
  } else {
    const missing = card.views.filter((v) => blank(raw.images.get(v.name))).map((v) => v.name);
    const unknown = [...raw.images.keys()].filter((k) => !card.views.some((v) => v.name === k));
    const given = card.views.length - missing.length;
    if (missing.length > 0 || unknown.length > 0) {
      const parts = [`has ${given + unknown.length} image(s) for the card's ${card.views.length} view(s)`];
      if (missing.length > 0) parts.push(`missing ${missing.map((m) => `"${m}"`).join(', ')}`);
      if (unknown.length > 0) parts.push(`unknown ${unknown.map((m) => `"${m}"`).join(', ')}`);
      problem(parts.join('; '));
    } else {
      for (const v of card.views) {
        const p = raw.images.get(v.name);
        if (typeof p !== 'string') problem(`the image for view "${v.name}" must be a path`);
        else images.push(resolve(folder, p.trim()));
      }
    }
  }
  let mask: string | null = null;
  if (!blank(raw.mask)) {
    if (typeof raw.mask !== 'string') problem('the mask must be a path');
    else mask = resolve(folder, raw.mask.trim());
  }

  const labels = new Uint8Array(card.labels.length);
  let classIndex: number | null = null;
  if (card.kind === 'multiclass' && raw.className !== undefined) {
    const k = typeof raw.className === 'string' ? card.labels.indexOf(raw.className.trim()) : -1;
    if (k < 0)
      problem(`unknown label ${JSON.stringify(raw.className)} (the card's classes: ${card.labels.join(', ')})`);
    else {
      labels[k] = 1;
      classIndex = k;
    }
  } else {
    for (const key of raw.labels.keys()) {
      if (!card.labels.includes(key)) problem(`unknown label "${key}" (not in the card)`);
    }
    card.labels.forEach((label, k) => {
      const value = raw.labels.get(label);
      const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (v === 0 || v === 1) labels[k] = v;
      else problem(`label "${label}" must be 0 or 1, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`);
    });
    if (card.kind === 'multiclass' && problems.length === before) {
      const ones = labels.reduce((a, b) => a + b, 0);
      if (ones !== 1) problem(`a multi-class case has exactly one class set to 1, got ${ones}`);
      else classIndex = labels.indexOf(1);
    }
  }
  if (problems.length > before) return null;
  return { id: name!, split: split as Split, images, mask, labels, classIndex };
}

/**
 * Looks up every distinct path once, a bounded number at a time. A folder counts (a DICOM
 * series), and `<file.npz>#<split>/<index>` is looked up as its archive.
 */
async function missingFiles(paths: string[]): Promise<Set<string>> {
  const missing = new Set<string>();
  const unique = [...new Set(paths)];
  for (let k = 0; k < unique.length; k += 64) {
    await Promise.all(
      unique.slice(k, k + 64).map(async (p) => {
        try {
          const s = await stat(imageFileOf(p));
          if (!s.isFile() && !s.isDirectory()) missing.add(p);
        } catch {
          missing.add(p);
        }
      }),
    );
  }
  return missing;
}

/**
 * Reads a dataset manifest (CSV, or JSON by the .json extension) and checks all of it against
 * the task card before any heavy work: ids present and unique, valid splits and no required split
 * empty, one image per card view, labels exactly the card's (0/1 columns, or a 'label' column
 * naming the class of a multi-class task), and every image and mask present (a file, a DICOM
 * series folder, or `<file.npz>#<split>/<index>`). Paths are relative to the manifest's folder. All problems are listed in one InputError naming the file.
 *
 * CSV columns: id, split, image (one volume for every view) or image_<view> per view, optional
 * mask, then one column per label (or 'label' for multi-class). JSON: a list of
 * {id, split, image | images: {view: path}, mask?, labels: {label: 0|1} | label: "class"}.
 */
export async function readManifest(path: string, card: TaskCard, options: ManifestOptions = {}): Promise<Manifest> {
  if (card.labels.length === 0) {
    throw new InputError(
      path,
      `task card "${card.id}" lists no labels: it is a template for data that is not public; copy it and list your labels`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new InputError(path, `cannot read the manifest: ${reason}`, { cause: error });
  }
  const raws = extname(path).toLowerCase() === '.json' ? jsonCases(text, path) : csvCases(text, path, card);
  const folder = dirname(resolve(path));
  const problems: string[] = [];
  const cases: ManifestCase[] = [];
  const caseWhere: string[] = [];
  const firstSeen = new Map<string, string>();
  for (const raw of raws) {
    const c = checkCase(raw, card, folder, problems);
    if (c === null) continue;
    const earlier = firstSeen.get(c.id);
    if (earlier !== undefined) problems.push(`${raw.where} (case "${c.id}"): the id was already used on ${earlier}`);
    else firstSeen.set(c.id, raw.where);
    cases.push(c);
    caseWhere.push(raw.where);
  }
  if (raws.length === 0) problems.push('the manifest lists no cases');
  for (const split of options.requireSplits ?? ['train', 'val']) {
    if (raws.length > 0 && !raws.some((r) => typeof r.split === 'string' && r.split.trim() === split)) {
      problems.push(`split "${split}" has no cases`);
    }
  }
  if (problems.length === 0 && options.checkFiles !== false) {
    const missing = await missingFiles(cases.flatMap((c) => (c.mask ? [...c.images, c.mask] : c.images)));
    cases.forEach((c, i) => {
      const where = `${caseWhere[i]} (case "${c.id}")`;
      c.images.forEach((p, v) => {
        if (missing.has(p)) problems.push(`${where}: image for view "${card.views[v]!.name}" not found: ${p}`);
      });
      if (c.mask && missing.has(c.mask)) problems.push(`${where}: mask not found: ${c.mask}`);
    });
  }
  if (problems.length > 0) fail(path, problems);
  return { source: path, card, cases };
}

/** The cases of one split, in manifest order. */
export function casesOf(manifest: Manifest, split: Split): ManifestCase[] {
  return manifest.cases.filter((c) => c.split === split);
}
