import type { Tensor } from '../graph/index.js';

/**
 * View `view`'s LoRA tensors named as a single-view backbone graph names them (`lora.<target>.A`):
 * a multi-view plugin stores each view's adapter under `view<k>.lora.`, a single-view one under `lora.`.
 */
export function viewLoraWeights(
  views: number,
  weights: ReadonlyMap<string, Tensor>,
  view: number,
): Map<string, Tensor> {
  const prefix = views > 1 ? `view${view}.lora.` : 'lora.';
  const out = new Map<string, Tensor>();
  for (const [k, t] of weights) if (k.startsWith(prefix)) out.set(k.slice(prefix.length - 5), t);
  return out;
}
