import type { Backbone, BackboneCard, BackboneValues, BuildOptions, LoraTarget } from '@anymc3d/core/backbone';
import { type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import type { Dinov2Config } from './config.js';
import { patchGrid, vitEncoder, vitLoraTargets } from './encoder.js';
import { resizePositionGrid } from './interpolate.js';
import type { Dinov2Weights } from './weights.js';

/** LoRA attachment points: the patch embedding, and each block's fused qkv and output projection. */
export function dinov2LoraTargets(c: Dinov2Config): LoraTarget[] {
  return vitLoraTargets(c);
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
    return patchGrid(this.card.name, inputSize, this.config.patchSize);
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
    const P = grid[0] * grid[1];
    const patchPos = resizePositionGrid(positions.subarray(d), d, g0, grid, modelType === 'dinov2_with_registers');
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
    const c = this.config;
    return g.scope('backbone', () =>
      vitEncoder(g, pixels, this.weights, {
        hiddenSize: c.hiddenSize,
        heads: c.heads,
        patchSize: c.patchSize,
        layerNormEps: c.layerNormEps,
        grid,
        prefix: 1 + c.registers,
        tokenOffsets: this.offsets(grid),
        targets: this.loraTargets(),
        ...(options.lora ? { lora: options.lora } : {}),
        ...(options.attention ? { attention: true } : {}),
        ...(options.patchTokens === false ? { clsOnly: true } : {}),
        ...(options.fusedAttention ? { fusedAttention: true } : {}),
      }),
    );
  }
}
