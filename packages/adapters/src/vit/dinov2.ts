import type {
  Backbone,
  BackboneCard,
  BackboneValues,
  BuildOptions,
  LoraConfig,
  LoraTarget,
} from '@anymc3d/core/backbone';
import { loraConv, loraLinear } from '@anymc3d/core/backbone';
import { f, type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import type { Dinov2Config } from './config.js';
import { bicubicResize } from './interpolate.js';
import type { BlockWeights, Dinov2Weights, Ffn } from './weights.js';

/** LoRA attachment points: the patch embedding, and each block's fused qkv and output projection. */
export function dinov2LoraTargets(c: Dinov2Config): LoraTarget[] {
  const { hiddenSize: d, patchSize: p } = c;
  const targets: LoraTarget[] = [
    { name: 'patch_embed', kind: 'conv', inFeatures: 3, outFeatures: d, kernel: [p, p], stride: [p, p] },
  ];
  for (let i = 0; i < c.layers; i++) {
    targets.push({ name: `blocks.${i}.qkv`, kind: 'linear', inFeatures: d, outFeatures: 3 * d });
    targets.push({ name: `blocks.${i}.proj`, kind: 'linear', inFeatures: d, outFeatures: d });
  }
  return targets;
}

/**
 * DINOv2 (Hugging Face `Dinov2Model` / `Dinov2WithRegistersModel` semantics) in the graph IR:
 * patch conv → [CLS, registers, patches] + position embeddings (interpolated at build time) →
 * pre-norm blocks with LayerScale and an MLP or SwiGLU FFN → final LayerNorm.
 */
export class Dinov2Backbone implements Backbone {
  private readonly tokenOffsets = new Map<string, Tensor>();

  constructor(
    readonly card: BackboneCard,
    readonly config: Dinov2Config,
    private readonly weights: Dinov2Weights,
    readonly weightHash: string,
  ) {}

  loraTargets(): LoraTarget[] {
    return dinov2LoraTargets(this.config);
  }

  /** Patch grid for an input size; throws when the size is not a multiple of the patch size. */
  grid(inputSize: readonly [number, number]): [number, number] {
    const p = this.config.patchSize;
    const [h, w] = inputSize;
    if (!(h > 0 && w > 0 && h % p === 0 && w % p === 0)) {
      throw new Error(`${this.card.name}: input size ${h}×${w} is not a positive multiple of the patch size ${p}`);
    }
    return [h / p, w / p];
  }

  /**
   * [1, 1+R+P, d]: what is added to [0 (CLS slot), 0 (register slots), patch embeddings]:
   * CLS token + its position, the register tokens (no position, as in HF), and the patch
   * positions, bicubic-interpolated to the grid exactly as the reference does.
   */
  private offsets(grid: [number, number]): Tensor {
    const key = grid.join('x');
    const cached = this.tokenOffsets.get(key);
    if (cached) return cached;
    const { hiddenSize: d, registers: R, modelType } = this.config;
    const { positions, positionGrid: g0, cls, registers } = this.weights;
    const [gh, gw] = grid;
    const P = gh * gw;
    let patchPos: Float32Array;
    if (gh === g0 && gw === g0) patchPos = positions.subarray(d);
    else {
      // [g0², d] → [d, g0, g0] → resize → [d, gh, gw] → [gh·gw, d]
      const chw = new Float32Array(d * g0 * g0);
      for (let t = 0; t < g0 * g0; t++) for (let c = 0; c < d; c++) chw[c * g0 * g0 + t] = positions[(1 + t) * d + c]!;
      const resized = bicubicResize(chw, d, [g0, g0], [gh, gw], modelType === 'dinov2_with_registers');
      patchPos = new Float32Array(P * d);
      for (let t = 0; t < P; t++) for (let c = 0; c < d; c++) patchPos[t * d + c] = resized[c * P + t]!;
    }
    const out = new Float32Array((1 + R + P) * d);
    for (let c = 0; c < d; c++) out[c] = cls[c]! + positions[c]!;
    out.set(registers, d);
    out.set(patchPos, (1 + R) * d);
    const t = tensor('float32', [1, 1 + R + P, d], out);
    this.tokenOffsets.set(key, t);
    return t;
  }

  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues {
    const grid = this.grid(options.inputSize);
    const { hiddenSize: d, registers: R, patchSize: p } = this.config;
    const P = grid[0] * grid[1];
    const T = 1 + R + P;
    const lora = options.lora;
    const w = this.weights;
    const targets = new Map(this.loraTargets().map((t) => [t.name, t]));
    return g.scope('backbone', () => {
      const patches = loraConv(
        g,
        pixels,
        g.param('patch_embed.weight', w.patchW),
        g.param('patch_embed.bias', w.patchB),
        targets.get('patch_embed')!,
        lora,
        { strides: [p, p] },
      );
      const seq = g.op('Transpose', [g.op('Reshape', [patches, g.ints([0, d, P])])], { perm: [0, 2, 1] });
      const padded = g.op('Pad', [seq, g.ints([0, 1 + R, 0, 0, 0, 0])], { mode: 'constant' });
      let x = g.op('Add', [padded, g.param(`token_offsets_${grid.join('x')}`, this.offsets(grid))]);
      let lastProbs: Value | undefined;
      w.blocks.forEach((b, i) => {
        g.scope(`blocks.${i}`, () => {
          const out = this.block(g, x, b, i, T, lora, targets);
          x = out.x;
          lastProbs = out.probs;
        });
      });
      const normed = this.norm(g, x, g.param('norm.weight', w.normW), g.param('norm.bias', w.normB));
      const cls = g.op('Gather', [normed, g.constant(tensor('int64', [], [0]))], { axis: 1 });
      const patchTokens = g.op('Slice', [normed, g.ints([1 + R]), g.ints([T]), g.ints([1])]);
      const values: BackboneValues = { cls, patchTokens, grid };
      if (options.attention && lastProbs) {
        // CLS query row, patch key columns (registers and CLS excluded), mean over heads; the
        // probabilities are reported as they are, not renormalised over the patches.
        const row = g.op('Slice', [lastProbs, g.ints([0, 1 + R]), g.ints([1, T]), g.ints([2, 3])]);
        values.attention = g.op('ReduceMean', [row], { axes: [1, 2], keepdims: 0 });
      }
      return values;
    });
  }

  private norm(g: GraphBuilder, x: Value, weight: Value, bias: Value): Value {
    return g.op(
      'LayerNormalization',
      [x, weight, bias],
      { axis: -1, epsilon: f(this.config.layerNormEps) },
      { count: 1 },
    );
  }

  private block(
    g: GraphBuilder,
    x: Value,
    b: BlockWeights,
    i: number,
    T: number,
    lora: LoraConfig | undefined,
    targets: Map<string, LoraTarget>,
  ): { x: Value; probs: Value } {
    const { hiddenSize: d, heads: H } = this.config;
    const hd = d / H;
    const h = this.norm(g, x, g.param('norm1.weight', b.norm1W), g.param('norm1.bias', b.norm1B));
    const qkv = loraLinear(
      g,
      h,
      g.param('qkv.weightT', b.qkvT),
      b.qkvB ? g.param('qkv.bias', b.qkvB) : undefined,
      targets.get(`blocks.${i}.qkv`)!,
      lora,
    );
    // [N,T,3d] → [3,N,H,T,hd]
    const heads = g.op('Transpose', [g.op('Reshape', [qkv, g.ints([0, T, 3, H, hd])])], { perm: [2, 0, 3, 1, 4] });
    const pick = (k: number) => g.op('Gather', [heads, g.constant(tensor('int64', [], [k]))], { axis: 0 });
    const [q, k, v] = [pick(0), pick(1), pick(2)];
    const scores = g.op('Mul', [
      g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
      g.scalar(hd ** -0.5),
    ]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const context = g.op('Reshape', [
      g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
      g.ints([0, T, d]),
    ]);
    const attn = loraLinear(
      g,
      context,
      g.param('proj.weightT', b.projT),
      g.param('proj.bias', b.projB),
      targets.get(`blocks.${i}.proj`)!,
      lora,
    );
    const x1 = g.op('Add', [g.op('Mul', [attn, g.param('ls1', b.scale1)]), x]);
    const h2 = this.norm(g, x1, g.param('norm2.weight', b.norm2W), g.param('norm2.bias', b.norm2B));
    const ffn = this.ffn(g, h2, b.ffn);
    return { x: g.op('Add', [g.op('Mul', [ffn, g.param('ls2', b.scale2)]), x1]), probs };
  }

  private ffn(g: GraphBuilder, x: Value, ffn: Ffn): Value {
    const lin = (input: Value, name: string, wT: Tensor, bias: Tensor) =>
      g.op('Add', [g.op('MatMul', [input, g.param(`${name}.weightT`, wT)]), g.param(`${name}.bias`, bias)]);
    if (ffn.kind === 'mlp') {
      const u = lin(x, 'fc1', ffn.fc1T, ffn.fc1B);
      // Exact GELU in the Div→Erf→Add→Mul→Mul form ONNX Runtime fuses (with the bias) into one kernel.
      const e = g.op('Erf', [g.op('Div', [u, g.scalar(Math.SQRT2)])]);
      const act = g.op('Mul', [g.op('Mul', [u, g.op('Add', [e, g.scalar(1)])]), g.scalar(0.5)]);
      return lin(act, 'fc2', ffn.fc2T, ffn.fc2B);
    }
    const gate = lin(x, 'gate', ffn.gateT, ffn.gateB);
    const up = lin(x, 'up', ffn.upT, ffn.upB);
    const hidden = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    return lin(hidden, 'out', ffn.outT, ffn.outB);
  }
}
