import type { Backbone, LoraConfig } from '../backbone/index.js';
import {
  buildGradientGraph,
  type Graph,
  GraphBuilder,
  gradName,
  OnnxSession,
  seedName,
  type Tensor,
  tensor,
  toOnnx,
} from '../graph/index.js';
import { classificationLoss, type PluginSpec, type PluginWeights, pluginHead } from '../plugin/plugin-graph.js';
import type { BatchGradient } from './loop.js';

/** One volume for LoRA training: slices as backbone-ready pixels [slices,3,H,W] and its labels. */
export interface VolumeCase {
  id: string;
  pixels: Float32Array;
  slices: number;
  labels: readonly number[];
}

export interface LoraTrainerOptions {
  inputSize: [number, number];
  lora: LoraConfig;
  plugin: PluginWeights;
  /**
   * Slices per recompute chunk. Unset: one graph holds the whole case (all activations at once).
   * Set: forward every chunk without keeping activations, pool/head/loss once, then recompute
   * each chunk with its upstream gradient — the same gradients, peak memory set by the chunk.
   */
  chunk?: number;
  threads?: number;
}

const TRAIN_SESSION = (threads?: number) => ({ memoryPattern: false, ...(threads ? { threads } : {}) });

function backboneGraph(backbone: Backbone, o: LoraTrainerOptions): Graph {
  const g = new GraphBuilder('backbone.cls');
  const [h, w] = o.inputSize;
  const pixels = g.input('pixels', 'float32', ['S', 3, h, w]);
  const { cls } = backbone.build(g, pixels, { inputSize: o.inputSize, lora: o.lora });
  g.output(cls, 'cls');
  return g.build();
}

function headGraph(
  spec: PluginSpec,
  plugin: PluginWeights,
  tokens?: (g: GraphBuilder) => ReturnType<GraphBuilder['input']>,
) {
  const g = new GraphBuilder('plugin.head');
  const t = tokens ? tokens(g) : g.input('tokens', 'float32', [1, 'S', spec.dim]);
  const labels = g.input('labels', 'float32', [1, spec.labels.length]);
  const weight = g.input('weight', 'float32', [1]);
  const { logits } = pluginHead(g, t, undefined, plugin);
  g.output(classificationLoss(g, spec, logits, labels, weight), 'loss');
  return g;
}

/**
 * LoRA + plugin training through a backbone. Cases are processed one at a time (a volume's
 * slices are its batch), so any slice count works; micro-batches sum per-case gradients.
 */
export class LoraTrainer {
  readonly params = new Map<string, Tensor>();
  readonly groups = new Map<string, string>();

  private constructor(
    private readonly spec: PluginSpec,
    private readonly options: LoraTrainerOptions,
    private readonly sessions: {
      oneShot?: OnnxSession;
      forward?: OnnxSession;
      head?: OnnxSession;
      vjp?: OnnxSession;
    },
    private readonly loraNames: string[],
    private readonly headNames: string[],
  ) {}

  static async create(backbone: Backbone, spec: PluginSpec, options: LoraTrainerOptions): Promise<LoraTrainer> {
    const fwd = backboneGraph(backbone, options);
    const loraNames = [...fwd.params.values()].filter((p) => p.role === 'trainable').map((p) => p.name);
    const headNames = [...options.plugin.keys()];
    const sessionOptions = TRAIN_SESSION(options.threads);
    let sessions: LoraTrainer['sessions'];
    if (options.chunk) {
      const head = headGraph(spec, options.plugin).build();
      const vjp = buildGradientGraph(fwd, { seeds: ['cls'], wrt: loraNames });
      sessions = {
        forward: await OnnxSession.create(toOnnx(fwd), options.threads ? { threads: options.threads } : {}),
        head: await OnnxSession.create(
          toOnnx(buildGradientGraph(head, { loss: 'loss', wrt: [...headNames, 'tokens'] })),
          sessionOptions,
        ),
        vjp: await OnnxSession.create(toOnnx(vjp), sessionOptions),
      };
    } else {
      const g = headGraph(spec, options.plugin, (b) => {
        const [h, w] = options.inputSize;
        const pixels = b.input('pixels', 'float32', ['S', 3, h, w]);
        const { cls } = backbone.build(b, pixels, { inputSize: options.inputSize, lora: options.lora });
        return b.op('Unsqueeze', [cls, b.ints([0])]);
      });
      const graph = g.build();
      sessions = {
        oneShot: await OnnxSession.create(
          toOnnx(buildGradientGraph(graph, { loss: 'loss', wrt: [...loraNames, ...headNames] })),
          sessionOptions,
        ),
      };
    }
    const trainer = new LoraTrainer(spec, options, sessions, loraNames, headNames);
    for (const p of fwd.params.values()) {
      if (p.role !== 'trainable') continue;
      trainer.params.set(p.name, { ...p.value, data: Float32Array.from(p.value.data as Float32Array) });
      trainer.groups.set(p.name, 'lora');
    }
    for (const [name, t] of options.plugin) {
      trainer.params.set(name, t);
      trainer.groups.set(name, 'head');
    }
    return trainer;
  }

  private feeds(names: readonly string[]): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const n of names) out[n] = this.params.get(n)!;
    return out;
  }

  /** Loss and gradients of one case scaled by `weight`. */
  async caseGradient(c: VolumeCase, weight: number): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
    const [h, w] = this.options.inputSize;
    const labels = tensor('float32', [1, this.spec.labels.length], Float32Array.from(c.labels));
    const weightT = tensor('float32', [1], [weight]);
    const grads = new Map<string, Float32Array>();
    if (this.sessions.oneShot) {
      const out = await this.sessions.oneShot.run({
        pixels: tensor('float32', [c.slices, 3, h, w], c.pixels),
        labels,
        weight: weightT,
        ...this.feeds([...this.loraNames, ...this.headNames]),
      });
      for (const n of [...this.loraNames, ...this.headNames]) grads.set(n, out[gradName(n)]!.data as Float32Array);
      return { loss: Number(out['out.loss']!.data[0]), grads };
    }
    const chunk = this.options.chunk!;
    const per = 3 * h * w;
    const d = this.spec.dim;
    const tokens = new Float32Array(c.slices * d);
    const lora = this.feeds(this.loraNames);
    const slicePixels = (s0: number, s1: number) =>
      tensor('float32', [s1 - s0, 3, h, w], c.pixels.subarray(s0 * per, s1 * per));
    for (let s0 = 0; s0 < c.slices; s0 += chunk) {
      const s1 = Math.min(c.slices, s0 + chunk);
      const out = await this.sessions.forward!.run({ pixels: slicePixels(s0, s1), ...lora }, ['cls']);
      tokens.set(out.cls!.data as Float32Array, s0 * d);
    }
    const head = await this.sessions.head!.run({
      tokens: tensor('float32', [1, c.slices, d], tokens),
      labels,
      weight: weightT,
      ...this.feeds(this.headNames),
    });
    for (const n of this.headNames) grads.set(n, head[gradName(n)]!.data as Float32Array);
    const dTokens = head[gradName('tokens')]!.data as Float32Array;
    for (const n of this.loraNames) grads.set(n, new Float32Array(this.params.get(n)!.data.length));
    for (let s0 = 0; s0 < c.slices; s0 += chunk) {
      const s1 = Math.min(c.slices, s0 + chunk);
      const out = await this.sessions.vjp!.run({
        pixels: slicePixels(s0, s1),
        [seedName('cls')]: tensor('float32', [s1 - s0, d], dTokens.subarray(s0 * d, s1 * d)),
        ...lora,
      });
      for (const n of this.loraNames) {
        const acc = grads.get(n)!;
        const g = out[gradName(n)]!.data as Float32Array;
        for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
      }
    }
    return { loss: Number(head['out.loss']!.data[0]), grads };
  }

  /** A gradient function for `runTraining` over `cases`. */
  gradient(cases: readonly VolumeCase[]): BatchGradient {
    return async (indices, weights) => {
      let loss = 0;
      const total = new Map<string, Float32Array>();
      for (let k = 0; k < indices.length; k++) {
        const r = await this.caseGradient(cases[indices[k]!]!, weights[k]!);
        loss += r.loss;
        for (const [n, g] of r.grads) {
          const acc = total.get(n);
          if (!acc) total.set(n, Float32Array.from(g));
          else for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
        }
      }
      return { loss, grads: total };
    };
  }

  async release(): Promise<void> {
    for (const s of Object.values(this.sessions)) await s?.release();
  }
}
