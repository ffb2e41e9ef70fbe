import { describe, expect, it } from 'vitest';
import { GraphBuilder, OnnxSession, tensor, toOnnx } from '../graph/index.js';
import { Random } from '../util/random.js';
import { DEFAULT_LORA, loraLinear, loraParamCount } from './lora.js';
import type { LoraTarget } from './types.js';

function vitTargets(dim: number, depth: number, patch: number): LoraTarget[] {
  const t: LoraTarget[] = [
    {
      name: 'patch_embed',
      kind: 'conv',
      inFeatures: 3,
      outFeatures: dim,
      kernel: [patch, patch],
      stride: [patch, patch],
    },
  ];
  for (let b = 0; b < depth; b++) {
    t.push({ name: `blocks.${b}.qkv`, kind: 'linear', inFeatures: dim, outFeatures: 3 * dim });
    t.push({ name: `blocks.${b}.proj`, kind: 'linear', inFeatures: dim, outFeatures: dim });
  }
  return t;
}

describe('LoRA', () => {
  it('reproduces the paper’s parameter counts (fused qkv, patch embed, out proj)', () => {
    // DINOv3 ViT-L/16: 1,193,984 LoRA params (METHOD.md §1.4), +1,024 query + 1,025 binary head ≈ 1.20M.
    expect(loraParamCount(vitTargets(1024, 24, 16), 8)).toBe(1_193_984);
    // DINOv2 ViT-B/14 with 18 labels: LoRA + query 768 + head 768·18+18 ≈ 0.47M.
    const vitB = loraParamCount(vitTargets(768, 12, 14), 8) + 768 + 768 * 18 + 18;
    expect(vitB).toBeGreaterThan(460_000);
    expect(vitB).toBeLessThan(480_000);
  });

  it('adds (α/r)·x·Aᵀ·Bᵀ to the frozen linear, and nothing while B is zero', async () => {
    const [T, I, O] = [4, 6, 5];
    const r = new Random(3);
    const x = Float32Array.from({ length: T * I }, () => r.normal());
    const wT = Float32Array.from({ length: I * O }, () => r.normal());
    const target: LoraTarget = { name: 'fc', kind: 'linear', inFeatures: I, outFeatures: O };
    const g = new GraphBuilder('lora');
    const xv = g.input('x', 'float32', [T, I]);
    g.output(loraLinear(g, xv, g.param('wT', tensor('float32', [I, O], wT)), undefined, target, DEFAULT_LORA), 'y');
    const graph = g.build();
    const A = graph.params.get('lora.fc.A')!;
    expect(A.role).toBe('trainable');
    expect(A.group).toBe('lora');
    expect(Array.from(graph.params.get('lora.fc.B')!.value.data as Float32Array).every((v) => v === 0)).toBe(true);
    const s = await OnnxSession.create(toOnnx(graph), { threads: 1 });

    const B = Float32Array.from({ length: O * 8 }, () => r.normal());
    const feeds = { x: tensor('float32', [T, I], x), 'lora.fc.A': A.value, 'lora.fc.B': tensor('float32', [O, 8], B) };
    const y = (await s.run(feeds)).y!.data as Float32Array;
    const a = A.value.data as Float32Array;
    for (let t = 0; t < T; t++)
      for (let o = 0; o < O; o++) {
        let ref = 0;
        for (let i = 0; i < I; i++) {
          let delta = 0;
          for (let k = 0; k < 8; k++) delta += B[o * 8 + k]! * a[k * I + i]!;
          ref += x[t * I + i]! * (wT[i * O + o]! + 2 * delta);
        }
        expect(y[t * O + o]).toBeCloseTo(ref, 4);
      }
    const zero = (await s.run({ ...feeds, 'lora.fc.B': tensor('float32', [O, 8]) })).y!.data as Float32Array;
    for (let t = 0; t < T; t++)
      for (let o = 0; o < O; o++) {
        let ref = 0;
        for (let i = 0; i < I; i++) ref += x[t * I + i]! * wT[i * O + o]!;
        expect(zero[t * O + o]).toBeCloseTo(ref, 4);
      }
  });
});
