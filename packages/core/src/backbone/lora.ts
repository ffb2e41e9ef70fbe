import type { GraphBuilder, Value } from '../graph/index.js';
import { tensor } from '../graph/index.js';
import { Random } from '../util/random.js';
import type { LoraTarget } from './types.js';

/** LoRA as in the paper: W' = W + (α/r)·B·A with B zero-initialised; rank 8, α 16 by default. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Seed for A's initialisation (B starts at zero, so the adapted network starts as the frozen one). */
  seed: number;
  /** Restrict to targets whose name matches; default: all of the backbone's targets. */
  include?: (target: LoraTarget) => boolean;
  /** Optimiser group name for the created params. */
  group?: string;
}

export const DEFAULT_LORA: LoraConfig = { rank: 8, alpha: 16, seed: 0, group: 'lora' };

export function loraParamCount(targets: readonly LoraTarget[], rank: number): number {
  let n = 0;
  for (const t of targets) {
    const k = t.kind === 'conv' ? (t.kernel?.[0] ?? 1) * (t.kernel?.[1] ?? 1) : 1;
    n += rank * t.inFeatures * k + t.outFeatures * rank;
  }
  return n;
}

/**
 * A's init follows PEFT (kaiming-uniform with a=√5 ⇒ U(±1/√fan_in)); B is zero. Params are
 * named `lora.<target>.A` / `.B`, trainable, in `config.group`.
 */
function loraParams(
  g: GraphBuilder,
  target: LoraTarget,
  config: LoraConfig,
  aDims: number[],
  bDims: number[],
  dtype: 'float32' | 'float64',
) {
  const fanIn = aDims.slice(1).reduce((p, q) => p * q, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const rand = Random.fromString(config.seed, target.name);
  const values = Float32Array.from({ length: aDims.reduce((p, q) => p * q, 1) }, () => rand.uniform(-bound, bound));
  const a = tensor(dtype, aDims, dtype === 'float64' ? Float64Array.from(values) : values);
  const group = config.group ?? 'lora';
  const A = g.param(`lora.${target.name}.A`, a, { role: 'trainable', group, scoped: false });
  const B = g.param(`lora.${target.name}.B`, tensor(dtype, bDims), { role: 'trainable', group, scoped: false });
  return { A, B };
}

/** LoRA weights follow the activations' precision (float64 for gradient checks). */
const floatType = (x: Value): 'float32' | 'float64' => (x.dtype === 'float64' ? 'float64' : 'float32');

/**
 * x·Wᵀ + b, plus (α/r)·(x·Aᵀ)·Bᵀ when the target is adapted. `weightT` is W transposed ([in,out]).
 * A is [r,in] and B is [out,r] as in PEFT, so adapters trained elsewhere load unchanged.
 */
export function loraLinear(
  g: GraphBuilder,
  x: Value,
  weightT: Value,
  bias: Value | undefined,
  target: LoraTarget,
  config: LoraConfig | undefined,
): Value {
  let y = g.op('MatMul', [x, weightT]);
  if (bias) y = g.op('Add', [y, bias]);
  const delta = loraDelta(g, x, target, config);
  return delta ? g.op('Add', [y, delta]) : y;
}

/**
 * The low-rank term (α/r)·(x·Aᵀ)·Bᵀ alone, or undefined when the target is not adapted — for
 * weights the graph fuses (CLIP/SigLIP's separate q, k, v run as one MatMul, each with its own pair).
 */
export function loraDelta(
  g: GraphBuilder,
  x: Value,
  target: LoraTarget,
  config: LoraConfig | undefined,
): Value | undefined {
  if (!config || (config.include && !config.include(target))) return undefined;
  const { A, B } = loraParams(
    g,
    target,
    config,
    [config.rank, target.inFeatures],
    [target.outFeatures, config.rank],
    floatType(x),
  );
  const xa = g.op('MatMul', [x, g.op('Transpose', [A], { perm: [1, 0] })]);
  const scaled = g.op('Mul', [xa, g.scalar(config.alpha / config.rank, x.dtype)]);
  return g.op('MatMul', [scaled, g.op('Transpose', [B], { perm: [1, 0] })]);
}

/**
 * conv(x, W) + b, plus (α/r)·conv1×1(conv(x, A), B) when adapted — PEFT's LoRA for Conv2d:
 * A [r,in,kh,kw] with the base stride, B [out,r,1,1].
 */
export function loraConv(
  g: GraphBuilder,
  x: Value,
  weight: Value,
  bias: Value | undefined,
  target: LoraTarget,
  config: LoraConfig | undefined,
  convAttrs: { strides: number[]; pads?: number[]; group?: number },
): Value {
  const attrs = {
    strides: convAttrs.strides,
    ...(convAttrs.pads ? { pads: convAttrs.pads } : {}),
    ...(convAttrs.group ? { group: convAttrs.group } : {}),
  };
  const y = g.op('Conv', bias ? [x, weight, bias] : [x, weight], attrs);
  if (!config || (config.include && !config.include(target))) return y;
  if ((convAttrs.group ?? 1) !== 1) throw new Error(`LoRA on grouped convolution ${target.name} is not supported`);
  const [kh, kw] = target.kernel ?? [1, 1];
  const { A, B } = loraParams(
    g,
    target,
    config,
    [config.rank, target.inFeatures, kh, kw],
    [target.outFeatures, config.rank, 1, 1],
    floatType(x),
  );
  const low = g.op('Conv', [x, A], { strides: convAttrs.strides, ...(convAttrs.pads ? { pads: convAttrs.pads } : {}) });
  const up = g.op('Conv', [g.op('Mul', [low, g.scalar(config.alpha / config.rank, x.dtype)]), B]);
  return g.op('Add', [y, up]);
}
