import {
  type Device,
  type Graph,
  GraphBuilder,
  OnnxSession,
  type Precision,
  type PrecisionProvenance,
  type Tensor,
  toOnnx,
  type Value,
  withPrecision,
} from '../graph/index.js';
import { InputError } from '../util/errors.js';
import type { LoraConfig } from './lora.js';
import type { Backbone, BackboneValues } from './types.js';

/** The public outputs of a backbone graph (the `backbones embed` contract). */
export const EMBED_OUTPUTS = ['cls', 'patch_tokens', 'attention'] as const;

/**
 * A standalone backbone graph: input `pixels` [N,3,H,W] (normalised), outputs `cls` [N,d],
 * `patch_tokens` [N,P,d] and `attention` [N,P]. With `lora`, its A/B tensors are graph inputs.
 */
export function backboneGraph(backbone: Backbone, inputSize: [number, number], lora?: LoraConfig): Graph {
  return buildBackboneGraph(backbone, inputSize, lora).graph;
}

/**
 * The same graph with the patch grid, the outputs it has (CNNs have no attention) and its
 * arithmetic. 'int8' runs the backbone's own integer graph where it has one (uint8 TFLite
 * CNNs), otherwise the float graph with its weight MatMuls dynamically quantised. `patchTokens:
 * false` leaves that output out, and a ViT its last block's work for tokens other than CLS. The
 * graph is for running, so a ViT's attention is fused (BuildOptions.fusedAttention); a caller
 * that differentiates it asks `fusedAttention: false`.
 */
export function buildBackboneGraph(
  backbone: Backbone,
  inputSize: [number, number],
  lora?: LoraConfig,
  precision: Precision = 'fp32',
  options: { patchTokens?: boolean; fusedAttention?: boolean } = {},
): {
  graph: Graph;
  grid: [number, number];
  outputs: string[];
  provenance: PrecisionProvenance;
  /** The embedding's rounding step, for a backbone's own integer graph (`IntegerBackboneValues.clsStep`). */
  clsStep?: number;
} {
  if (precision === 'int8' && lora) {
    throw new InputError(
      backbone.card.name,
      'precision int8 runs the frozen backbone only; LoRA (training and adapted embeddings) needs precision fp32',
    );
  }
  const g = new GraphBuilder(`${backbone.card.name}_${inputSize.join('x')}`);
  const pixels = g.input('pixels', 'float32', ['N', 3, inputSize[0], inputSize[1]]);
  const patchTokens = options.patchTokens ?? true;
  const wanted = { inputSize, attention: true, patchTokens };
  const out: BackboneValues & { method?: string; clsStep?: number } =
    precision === 'int8' && backbone.buildInteger
      ? backbone.buildInteger(g, pixels, wanted)
      : backbone.build(g, pixels, {
          ...wanted,
          fusedAttention: options.fusedAttention ?? true,
          ...(lora ? { lora } : {}),
        });
  g.output(out.cls, 'cls');
  // A backbone may give patch tokens it was not asked for (a CNN's are its last map, no extra work).
  if (patchTokens) g.output(requirePatchTokens(backbone, out), 'patch_tokens');
  if (out.attention) g.output(out.attention, 'attention');
  const names = ['cls', ...(patchTokens ? ['patch_tokens'] : []), ...(out.attention ? ['attention'] : [])];
  const built = g.build();
  if (out.method !== undefined) {
    const floatMatMuls = built.nodes.filter((n) => n.op === 'MatMul').length;
    const provenance = { precision, method: out.method, quantizedMatMuls: 0, floatMatMuls, weights: [] };
    return { graph: built, grid: out.grid, outputs: names, provenance, ...stepOf(out) };
  }
  const { graph, provenance } = withPrecision(built, precision);
  return { graph, grid: out.grid, outputs: names, provenance };
}

/** The patch tokens of a backbone built without `patchTokens: false`, which must give them. */
export function requirePatchTokens(backbone: Backbone, values: BackboneValues): Value {
  if (!values.patchTokens) throw new Error(`${backbone.card.name}: the backbone gave no patch tokens`);
  return values.patchTokens;
}

export interface EmbedderOptions {
  device?: Device;
  /** Intra-op threads (default: ONNX Runtime's, one per physical core, its workers pinned). */
  threads?: number;
  allowSpinning?: boolean;
  /** Slices per ONNX Runtime run (default 8). */
  batchSize?: number;
  /**
   * 'int8': for backbones with their own integer graph (uint8 TFLite MobileNets) the file's
   * integer network; otherwise the frozen weight MatMuls dynamically quantised (about 2×
   * faster on CPU, CLS cosine ≈ 0.9998 to fp32 on random ViT-S weights; re-check on trained
   * weights). Refused with `lora`, whose deltas are float. Default 'fp32'.
   */
  precision?: Precision;
  /**
   * A plugin's LoRA, baked into the graph: the backbone as that plugin sees it, so its CLS→patch
   * attention is the tuned network's, not the pretrained one's. Absent: the frozen backbone.
   */
  lora?: BakedLora;
  /** Names the plugin in errors about its LoRA (default: the backbone's name). */
  source?: string;
  /** Called with each batch's slice count as it finishes (progress on long volumes). */
  onSlices?: (count: number) => void;
}

/** Rank, α, the adapted targets and their `lora.<target>.A/B` tensors (names without any per-view prefix). */
export interface BakedLora {
  rank: number;
  alpha: number;
  targets: readonly string[];
  weights: ReadonlyMap<string, Tensor>;
}

export interface Embedding {
  /** [N, d] */
  cls: Tensor;
  /** [N, P, d]; absent when asked without (`embed(pixels, { patchTokens: false })`). */
  patchTokens?: Tensor;
  /** [N, P]; absent for backbones without attention (CNNs). */
  attention?: Tensor;
  grid: [number, number];
  /** The step the CLS values are rounded to, for a backbone's own integer graph (`IntegerBackboneValues.clsStep`). */
  clsStep?: number;
}

/** A built backbone session with the patch grid and outputs its graph has. */
export interface BackboneSession {
  session: OnnxSession;
  grid: [number, number];
  outputs: string[];
  /** As `Embedding.clsStep`. */
  clsStep?: number;
}

/**
 * Backbone sessions by input size and outputs, each built on first use and reused; a build that
 * fails is forgotten, so a later call tries again instead of meeting the same rejected promise.
 */
class SessionsBySize {
  private readonly sessions = new Map<string, Promise<BackboneSession>>();

  get(size: [number, number], patchTokens: boolean, build: () => Promise<BackboneSession>): Promise<BackboneSession> {
    const key = `${size.join('x')}${patchTokens ? '' : ' without patch tokens'}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = build();
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key));
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).session.release();
    this.sessions.clear();
  }
}

/**
 * The backbone as a forward-only engine, frozen or with a plugin's LoRA baked in: one ONNX Runtime
 * session per input size, built on first use and reused; batches are cut to `batchSize` and the
 * outputs concatenated. Every forward-only backbone pass (commands, apps, heatmaps) runs through it.
 */
export class BackboneEmbedder {
  private readonly sessions = new SessionsBySize();
  readonly batchSize: number;

  constructor(
    readonly backbone: Backbone,
    private readonly options: EmbedderOptions = {},
  ) {
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 8));
    if (this.precision === 'int8' && options.lora)
      throw new InputError(this.source, 'precision int8 runs the frozen backbone only; a LoRA plugin needs fp32');
  }

  /** What the last built session ran at ('fp32', or 'int8' with its method and quantised MatMuls). */
  provenance: PrecisionProvenance | undefined;

  get precision(): Precision {
    return this.options.precision ?? 'fp32';
  }

  get device(): Device {
    return this.options.device ?? 'cpu';
  }

  private get source(): string {
    return this.options.source ?? this.backbone.card.name;
  }

  async session(inputSize: [number, number]): Promise<OnnxSession> {
    return (await this.prepared(inputSize, true)).session;
  }

  /** The session for an input size, with or without the patch-token output (each built once). */
  private prepared(inputSize: [number, number], asked: boolean): Promise<BackboneSession> {
    // Only a ViT saves work without patch tokens; a CNN's are its last map, so one session serves both.
    const patchTokens = asked || this.backbone.card.family !== 'vit';
    return this.sessions.get(inputSize, patchTokens, async () => {
      const lora = this.options.lora;
      const targets = new Set(lora?.targets ?? []);
      const built = buildBackboneGraph(
        this.backbone,
        inputSize,
        lora
          ? { rank: lora.rank, alpha: lora.alpha, seed: 0, group: 'lora', include: (t) => targets.has(t.name) }
          : undefined,
        this.precision,
        { patchTokens },
      );
      for (const p of built.graph.params.values()) {
        if (p.role === 'trainable' && !lora?.weights.has(p.name)) {
          // Baking in the initial value would silently give the un-adapted network (B starts at zero).
          throw new InputError(this.source, `the plugin has no tensor ${p.name} for its LoRA target`);
        }
      }
      this.provenance = built.provenance;
      const bytes = lora
        ? toOnnx(built.graph, { trainable: 'initializers', trainableValues: lora.weights })
        : toOnnx(built.graph);
      const session = await OnnxSession.create(bytes, {
        device: this.device,
        ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
        ...(this.options.allowSpinning !== undefined ? { allowSpinning: this.options.allowSpinning } : {}),
      });
      return { session, grid: built.grid, outputs: built.outputs, ...stepOf(built) };
    });
  }

  /**
   * Normalised pixels [N,3,H,W] → cls, patch tokens and (ViTs) attention, batch by batch.
   * `patchTokens: false` when they are not needed: a ViT then skips most of its last block.
   */
  async embed(pixels: Tensor, outputs: { patchTokens?: boolean } = {}): Promise<Embedding> {
    const prepared = await this.prepared(this.inputSize(pixels), outputs.patchTokens ?? true);
    return embedInBatches(prepared, pixels, this.batchSize, this.options.onSlices);
  }

  /** Normalised pixels [N,3,H,W] → the per-slice CLS [N, d] alone (what a prediction needs), batch by batch. */
  async cls(pixels: Tensor): Promise<Tensor> {
    const { session } = await this.prepared(this.inputSize(pixels), false);
    return (await runInBatches(session, ['cls'], pixels, this.batchSize, this.options.onSlices)).cls!;
  }

  private inputSize(pixels: Tensor): [number, number] {
    const [, c, h, w] = pixels.dims as [number, number, number, number];
    if (pixels.dims.length !== 4 || c !== 3)
      throw new Error(`pixels must be [N,3,H,W], got [${pixels.dims.join(',')}]`);
    return [h, w];
  }

  release(): Promise<void> {
    return this.sessions.release();
  }
}

/**
 * Runs pixels [N,3,H,W] through a backbone session `batchSize` slices at a time and joins each of
 * `outputs` over the batches; shared by the frozen and the LoRA-adapted embedders.
 */
export async function runInBatches(
  session: OnnxSession,
  outputs: readonly string[],
  pixels: Tensor,
  batchSize: number,
  onSlices?: (count: number) => void,
): Promise<Record<string, Tensor>> {
  const [n, , h, w] = pixels.dims as [number, number, number, number];
  const per = 3 * h * w;
  const parts: Record<string, Tensor>[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const count = Math.min(batchSize, n - start);
    const data = (pixels.data as Float32Array).subarray(start * per, (start + count) * per);
    parts.push(await session.run({ pixels: { dtype: 'float32', dims: [count, 3, h, w], data } }, outputs));
    onSlices?.(count);
  }
  const join = (name: string): Tensor => {
    const rest = parts[0]?.[name]?.dims.slice(1) ?? [];
    const out = new Float32Array(n * rest.reduce((a, b) => a * b, 1));
    let at = 0;
    for (const p of parts) {
      const t = p[name]!.data as Float32Array;
      out.set(t, at);
      at += t.length;
    }
    return { dtype: 'float32', dims: [n, ...rest], data: out };
  };
  return Object.fromEntries(outputs.map((name) => [name, join(name)]));
}

/** Every output of a backbone session (CLS, patch tokens, attention where it has one), batch by batch. */
export async function embedInBatches(
  prepared: BackboneSession,
  pixels: Tensor,
  batchSize: number,
  onSlices?: (count: number) => void,
): Promise<Embedding> {
  const joined = await runInBatches(prepared.session, prepared.outputs, pixels, batchSize, onSlices);
  return {
    cls: joined.cls!,
    ...(joined.patch_tokens ? { patchTokens: joined.patch_tokens } : {}),
    ...(joined.attention ? { attention: joined.attention } : {}),
    grid: prepared.grid,
    ...stepOf(prepared),
  };
}

/** `{ clsStep }` when `x` has one, else nothing (optional properties stay absent, not undefined). */
export function stepOf(x: { clsStep?: number }): { clsStep?: number } {
  return x.clsStep !== undefined ? { clsStep: x.clsStep } : {};
}
