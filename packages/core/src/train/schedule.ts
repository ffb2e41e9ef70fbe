/** Linear warm-up from lr/warmup to lr over `warmup` steps, then cosine decay to 0 at `total`. */
export function cosineWithWarmup(step: number, total: number, warmup: number): number {
  if (step < warmup) return (step + 1) / warmup;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}

/** Scales all gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_). */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  let sq = 0;
  for (const g of list) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return norm;
}
