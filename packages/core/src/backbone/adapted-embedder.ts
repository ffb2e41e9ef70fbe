import { type Device, OnnxSession, type Precision, type Tensor, toOnnx } from '../graph/index.js';
import { InputError } from '../util/errors.js';
import {
  type BackboneSession,
  buildBackboneGraph,
  type Embedding,
  embedInBatches,
  runInBatches,
  SessionsBySize,
  stepOf,
} from './embedder.js';
import type { Backbone } from './types.js';

export interface AdaptedEmbedderOptions {
  batchSize?: number;
  threads?: number;
  device?: Device;
  /** 'int8' quantises the frozen backbone (refused with LoRA, whose deltas are float); default 'fp32'. */
  precision?: Precision;
  onSlices?: (count: number) => void;
}

/**
 * The backbone as a plugin sees it: its LoRA deltas baked into the graph, so the CLS→patch
 * attention is recomputed from the adapted qkv (a frozen backbone's attention would show what the
 * pretrained network looks at, not what the tuned one does). Without LoRA it is the frozen backbone.
 */
export class AdaptedEmbedder {
  private readonly sessions = new SessionsBySize();
  readonly batchSize: number;

  /**
   * `lora`: rank, α, the adapted targets and their `lora.<target>.A/B` tensors (names without any
   * per-view prefix); `source` names the plugin in errors.
   */
  constructor(
    readonly backbone: Backbone,
    private readonly lora:
      | { rank: number; alpha: number; targets: readonly string[]; weights: ReadonlyMap<string, Tensor> }
      | undefined,
    private readonly source: string,
    options: AdaptedEmbedderOptions = {},
  ) {
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? 8));
    this.threads = options.threads;
    this.device = options.device;
    this.onSlices = options.onSlices;
    this.precision = options.precision ?? 'fp32';
    if (this.precision === 'int8' && lora)
      throw new InputError(source, 'precision int8 runs the frozen backbone only; a LoRA plugin needs fp32');
  }

  readonly precision: Precision;

  private readonly onSlices: ((count: number) => void) | undefined;

  private readonly threads: number | undefined;

  /** Where the adapted backbone runs (default cpu), as the frozen embedder's `device`. */
  private readonly device: Device | undefined;

  private prepared(size: [number, number]): Promise<BackboneSession> {
    return this.sessions.get(size, async () => {
      const lora = this.lora;
      const targets = new Set(lora?.targets ?? []);
      const built = buildBackboneGraph(
        this.backbone,
        size,
        lora
          ? { rank: lora.rank, alpha: lora.alpha, seed: 0, group: 'lora', include: (t) => targets.has(t.name) }
          : undefined,
        this.precision,
      );
      for (const p of built.graph.params.values()) {
        if (p.role === 'trainable' && !lora?.weights.has(p.name)) {
          // Baking in the initial value would silently give the un-adapted network (B starts at zero).
          throw new InputError(this.source, `the plugin has no tensor ${p.name} for its LoRA target`);
        }
      }
      const bytes = toOnnx(built.graph, { trainable: 'initializers', trainableValues: lora?.weights ?? new Map() });
      const session = await OnnxSession.create(bytes, {
        ...(this.threads ? { threads: this.threads } : {}),
        ...(this.device ? { device: this.device } : {}),
      });
      return { session, grid: built.grid, outputs: built.outputs, ...stepOf(built) };
    });
  }

  /** Normalised pixels [N,3,H,W] → cls, patch tokens and (ViTs) attention, batch by batch. */
  async embed(pixels: Tensor): Promise<Embedding> {
    const [, , h, w] = pixels.dims as [number, number, number, number];
    return embedInBatches(await this.prepared([h, w]), pixels, this.batchSize, this.onSlices);
  }

  /** Normalised pixels [N,3,H,W] → the per-slice CLS [N, d] alone (what a prediction needs), batch by batch. */
  async cls(pixels: Tensor): Promise<Tensor> {
    const [, , h, w] = pixels.dims as [number, number, number, number];
    const { session } = await this.prepared([h, w]);
    return (await runInBatches(session, ['cls'], pixels, this.batchSize, this.onSlices)).cls!;
  }

  release(): Promise<void> {
    return this.sessions.release();
  }
}
