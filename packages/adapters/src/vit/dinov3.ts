import type { Backbone, BackboneCard, BackboneValues, BuildOptions, LoraTarget } from '@anymc3d/core/backbone';
import { type GraphBuilder, type Tensor, tensor, type Value } from '@anymc3d/core/graph';
import type { Dinov3Config } from './dinov3-config.js';
import type { Dinov3Weights } from './dinov3-weights.js';
import { patchGrid, vitEncoder, vitLoraTargets } from './encoder.js';
import { ropeTables } from './rope.js';

/** LoRA attachment points as for DINOv2: the patch embedding, each block's fused qkv and output projection. */
export function dinov3LoraTargets(c: Dinov3Config): LoraTarget[] {
  return vitLoraTargets(c);
}

/**
 * DINOv3 (Hugging Face `DINOv3ViTModel` semantics) in the graph IR: patch conv → [CLS, registers,
 * patches] with no absolute positions → pre-norm blocks whose q and k rotate by a 2D RoPE on
 * the patch tokens, LayerScale, MLP or gated MLP → final LayerNorm. RoPE is defined for any
 * grid, so every multiple of the patch size runs without interpolation; the cos/sin tables for
 * the requested grid are computed at build time and enter the graph as constants.
 */
export class Dinov3Backbone implements Backbone {
  constructor(
    readonly card: BackboneCard,
    readonly config: Dinov3Config,
    private readonly weights: Dinov3Weights,
    readonly weightHash: string,
  ) {}

  loraTargets(): LoraTarget[] {
    return dinov3LoraTargets(this.config);
  }

  /** Patch grid for an input size; throws when the size is not a multiple of the patch size. */
  grid(inputSize: readonly [number, number]): [number, number] {
    return patchGrid(this.card.name, inputSize, this.config.patchSize);
  }

  /** [1, 1+R+P, d]: the CLS token, the register tokens, zeros for the patches (DINOv3 adds no positions). */
  private offsets(P: number): Tensor {
    const { hiddenSize: d, registers: R } = this.config;
    const out = new Float32Array((1 + R + P) * d);
    out.set(this.weights.cls, 0);
    out.set(this.weights.registers, d);
    return tensor('float32', [1, 1 + R + P, d], out);
  }

  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues {
    const grid = this.grid(options.inputSize);
    const c = this.config;
    const prefix = 1 + c.registers;
    return g.scope('backbone', () =>
      vitEncoder(g, pixels, this.weights, {
        hiddenSize: c.hiddenSize,
        heads: c.heads,
        patchSize: c.patchSize,
        layerNormEps: c.layerNormEps,
        grid,
        prefix,
        tokenOffsets: this.offsets(grid[0] * grid[1]),
        rope: ropeTables(grid, c.hiddenSize / c.heads, c.ropeTheta, prefix),
        targets: this.loraTargets(),
        ...(options.lora ? { lora: options.lora } : {}),
        ...(options.attention ? { attention: true } : {}),
        ...(options.patchTokens === false ? { clsOnly: true } : {}),
        ...(options.fusedAttention ? { fusedAttention: true } : {}),
      }),
    );
  }
}
