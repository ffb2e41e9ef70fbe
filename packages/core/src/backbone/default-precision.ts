import type { Precision } from '../graph/index.js';
import type { BackboneCard } from './types.js';

/**
 * The frozen backbone's arithmetic when a command is not told: the card's `defaultPrecision` on
 * the CPU (int8 only where it was checked against fp32 on real data), fp32 on other devices and
 * where the card names none. One rule for `anymc3d features|train|demo` and `vlm3d train`, so
 * they fill, and find, the same feature cache.
 */
export function defaultPrecision(card: Pick<BackboneCard, 'defaultPrecision'>, device: string): Precision {
  return device === 'cpu' ? (card.defaultPrecision ?? 'fp32') : 'fp32';
}
