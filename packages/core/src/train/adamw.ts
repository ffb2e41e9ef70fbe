import type { Tensor } from '../graph/index.js';

export interface ParamGroup {
  lr: number;
  weightDecay: number;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/**
 * AdamW exactly as torch.optim.AdamW (decoupled decay p ← p·(1 − lr·wd), bias-corrected moments,
 * denominator √v̂ + ε) so a seeded run matches the PyTorch reference step for step.
 */
export class AdamW {
  state: AdamWState = { step: 0, m: new Map(), v: new Map() };

  constructor(
    private readonly betas: [number, number] = [0.9, 0.999],
    private readonly eps = 1e-8,
  ) {}

  /** One update; `lrScale` is the schedule's factor for this step. */
  step(
    params: Map<string, Tensor>,
    grads: ReadonlyMap<string, Float32Array>,
    groupOf: (name: string) => ParamGroup,
    lrScale: number,
  ): void {
    this.state.step += 1;
    const t = this.state.step;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const { lr: baseLr, weightDecay } = groupOf(name);
      const lr = baseLr * lrScale;
      const data = p.data as Float32Array;
      let m = this.state.m.get(name);
      let v = this.state.v.get(name);
      if (!m || !v) {
        m = new Float32Array(data.length);
        v = new Float32Array(data.length);
        this.state.m.set(name, m);
        this.state.v.set(name, v);
      }
      const decay = 1 - lr * weightDecay;
      const stepSize = lr / bc1;
      for (let i = 0; i < data.length; i++) {
        const gi = g[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        data[i] = data[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + this.eps);
      }
    }
  }
}
