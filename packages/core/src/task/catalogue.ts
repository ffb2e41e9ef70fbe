import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InputError } from '../util/errors.js';
import { readTaskCard, type TaskCard } from './card.js';

/** The benchmark's task cards ship with the package: `assets/tasks/<id>.json`. */
export const TASK_CARDS_DIR = fileURLToPath(new URL('../../assets/tasks/', import.meta.url));

let cards: Promise<Map<string, TaskCard>> | null = null;

async function load(): Promise<Map<string, TaskCard>> {
  const names = (await readdir(TASK_CARDS_DIR)).filter((n) => n.endsWith('.json')).sort();
  const byId = new Map<string, TaskCard>();
  for (const name of names) {
    const card = await readTaskCard(`${TASK_CARDS_DIR}${name}`);
    if (`${card.id}.json` !== name) {
      throw new InputError(`${TASK_CARDS_DIR}${name}`, `the card's id "${card.id}" does not match its file name`);
    }
    byId.set(card.id, card);
  }
  return byId;
}

function catalogue(): Promise<Map<string, TaskCard>> {
  if (cards === null) {
    cards = load();
    cards.catch(() => {
      cards = null;
    });
  }
  return cards;
}

/**
 * The benchmark's task cards, sorted by id: the public tasks (RSNA trauma, PANORAMA, CT-RATE,
 * MedMNIST 3D) and templates for the paper's non-public ones (`data.public === false`, no labels).
 * Each call returns fresh copies, so a caller may edit its cards.
 */
export async function listTaskCards(): Promise<TaskCard[]> {
  return [...(await catalogue()).values()].map((c) => structuredClone(c));
}

/** One of the benchmark's task cards by id; an unknown id is an InputError listing the known ones. */
export async function taskCard(id: string): Promise<TaskCard> {
  const all = await catalogue();
  const card = all.get(id);
  if (card === undefined) {
    throw new InputError(id, `no such benchmark task (known: ${[...all.keys()].join(', ')})`);
  }
  return structuredClone(card);
}
