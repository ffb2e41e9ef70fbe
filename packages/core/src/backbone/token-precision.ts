import type { Precision } from '../graph/index.js';
import type { BackboneCard } from './types.js';

/**
 * The arithmetic a command computes frozen tokens in: the one asked for, else the card's
 * `defaultPrecision` on the CPU (int8 only where it was checked against fp32 on real data), fp32
 * on other devices and where the card names none. One rule for `anymc3d features|train|demo` and
 * `vlm3d train`, so they fill, and find, the same feature cache (`servedPrecision` is its twin for
 * serving a trained plugin).
 */
export function tokenPrecision(
  card: Pick<BackboneCard, 'defaultPrecision'>,
  device: string,
  asked?: Precision,
): Precision {
  if (asked) return asked;
  return device === 'cpu' ? (card.defaultPrecision ?? 'fp32') : 'fp32';
}
