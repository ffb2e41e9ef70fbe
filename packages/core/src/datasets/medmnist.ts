import { resolve } from 'node:path';
import type { TaskCard } from '../task/card.js';
import type { Manifest, ManifestCase } from '../task/manifest.js';
import { InputError } from '../util/errors.js';
import type { Volume } from '../volume/types.js';
import { checkCardFor, Problems } from './common.js';
import { npzRef, parseNpzRef } from './image-ref.js';
import { type MedMnistSet, type MedMnistSplit, medMnistVolume, readMedMnist, readNpz } from './npz.js';

const SPLITS: readonly MedMnistSplit[] = ['train', 'val', 'test'];

/**
 * Reads a MedMNIST 3D archive (`<name>.npz` at 28³, `<name>_64.npz` at 64³) into a manifest with
 * the official train/val/test splits. Each case's image is `<file.npz>#<split>/<index>` (see
 * `readNpzVolume`), its id `<split>-<index>`. The label arrays hold the class index: for a binary
 * card 1 is its one label, for a multi-class card index k is the card's k-th class. Only the
 * label arrays are inflated here; a label outside the card's classes is an InputError naming the
 * array and index.
 */
export async function readMedMnistDataset(npz: string, card: TaskCard): Promise<Manifest> {
  const file = resolve(npz);
  checkCardFor('medmnist', card, file);
  if (card.kind === 'multilabel') {
    throw new InputError(file, `MedMNIST 3D tasks are binary or multi-class; card "${card.id}" is multi-label`);
  }
  const arrays = await readNpz(
    file,
    SPLITS.map((s) => `${s}_labels`),
  );
  const classes = card.kind === 'binary' ? 2 : card.labels.length;
  const problems = new Problems(file);
  const cases: ManifestCase[] = [];
  for (const split of SPLITS) {
    const labels = arrays.get(`${split}_labels`)!;
    const [count, width = 1] = labels.shape;
    if (labels.shape.length > 2 || width !== 1) {
      problems.add(`${split}_labels has shape ${JSON.stringify(labels.shape)}, expected (n, 1) class indices`);
      continue;
    }
    for (let i = 0; i < count!; i++) {
      const k = Number(labels.data[i]);
      if (!Number.isInteger(k) || k < 0 || k >= classes) {
        problems.add(`${split}_labels[${i}] is ${k}, outside the card's ${classes} classes`);
        continue;
      }
      const onehot = new Uint8Array(card.labels.length);
      if (card.kind === 'binary') onehot[0] = k;
      else onehot[k] = 1;
      cases.push({
        id: `${split}-${i}`,
        split,
        images: card.views.map(() => npzRef(file, split, i)),
        mask: null,
        labels: onehot,
        classIndex: card.kind === 'multiclass' ? k : null,
      });
    }
  }
  problems.throwIfAny();
  return { source: file, card, cases };
}

/** The archive split last read: a training run reads the cases of one split after another. */
let lastSplit: { key: string; set: Promise<MedMnistSet> } | null = null;

/**
 * The Volume behind `<file.npz>#<split>/<index>` (MedMNIST's `<split>_images` array, spacing 1,
 * identity direction; see `medMnistVolume`). The split's array is kept until another is asked for.
 */
export async function readNpzVolume(ref: string): Promise<Volume> {
  const parsed = parseNpzRef(ref);
  if (parsed === null) throw new InputError(ref, 'not an .npz volume reference (<file.npz>#<split>/<index>)');
  if (!(SPLITS as readonly string[]).includes(parsed.split)) {
    throw new InputError(ref, `unknown split "${parsed.split}" (expected ${SPLITS.join(', ')})`);
  }
  const key = `${parsed.file}#${parsed.split}`;
  let entry = lastSplit;
  if (entry?.key !== key) {
    entry = { key, set: readMedMnist(parsed.file, parsed.split as MedMnistSplit) };
    lastSplit = entry;
    entry.set.catch(() => {
      if (lastSplit?.key === key) lastSplit = null;
    });
  }
  const set = await entry.set;
  if (parsed.index >= set.count) {
    throw new InputError(ref, `${parsed.split}_images holds ${set.count} volumes; there is no volume ${parsed.index}`);
  }
  return medMnistVolume(set, parsed.index);
}
