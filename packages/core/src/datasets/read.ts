import type { TaskCard } from '../task/card.js';
import type { Manifest } from '../task/manifest.js';
import { InputError } from '../util/errors.js';
import type { SplitOptions } from './common.js';
import { readCtRate } from './ct-rate.js';
import { readMedMnistDataset } from './medmnist.js';
import { readPanorama } from './panorama.js';
import { readRsnaTrauma } from './rsna-trauma.js';

/** The readers a card's `data.reader` may name. */
export const DATASET_READERS = ['rsna-trauma', 'panorama', 'ct-rate', 'medmnist'] as const;
export type DatasetReader = (typeof DATASET_READERS)[number];

/** Where a dataset is and how to read it; each reader uses the fields that concern it. */
export interface DatasetInput {
  /**
   * rsna-trauma: the competition folder (train.csv, train_images/); panorama: the image folder;
   * ct-rate: the download root (or its dataset/ folder); medmnist: the .npz file.
   */
  path: string;
  /** How patients are split where the data has no official split. */
  split?: SplitOptions;
  /** panorama: the case table (clinical_information) saved as CSV. */
  labels?: string;
  /** panorama: mask folders, looked up in order. */
  masks?: string[];
  /** rsna-trauma: attach the model-generated organ masks. */
  organMasks?: boolean;
  /** panorama, ct-rate: leave out cases whose image is absent (partial downloads). */
  allowMissingImages?: boolean;
}

/** Reads the dataset of a card through the reader its `data.reader` names. */
export async function readDataset(card: TaskCard, input: DatasetInput): Promise<Manifest> {
  const reader = card.data.reader;
  const shared = input.allowMissingImages === undefined ? {} : { allowMissingImages: input.allowMissingImages };
  const split = input.split === undefined ? {} : { split: input.split };
  switch (reader) {
    case 'rsna-trauma':
      return readRsnaTrauma(input.path, card, { ...split, organMasks: input.organMasks === true });
    case 'panorama':
      if (input.labels === undefined) {
        throw new InputError(input.path, 'PANORAMA needs its case table (clinical_information saved as CSV)');
      }
      return readPanorama(input.path, card, { labels: input.labels, masks: input.masks ?? [], ...split, ...shared });
    case 'ct-rate':
      return readCtRate(input.path, card, { ...split, ...shared });
    case 'medmnist':
      return readMedMnistDataset(input.path, card);
    default:
      throw new InputError(
        card.id,
        reader === undefined
          ? card.data.public === false
            ? 'the data of this task is not public: write a manifest for your own data instead'
            : 'the card names no dataset reader (data.reader): write a manifest instead'
          : `unknown dataset reader "${reader}" (known: ${DATASET_READERS.join(', ')})`,
      );
  }
}
