import type { GraphBuilder, Value } from '../graph/index.js';
import type { LoraConfig } from './lora.js';

/**
 * The contract every backbone fulfils (DESIGN.md): core knows no particular model; adapters
 * implement this for ViTs, CNNs and whatever comes next.
 */

/** The `backbone.json` card that travels with a backbone's weights. */
export interface BackboneCard {
  /** Registry name, timm style (e.g. `dinov2_vits14`, `mobilenet_v1_224`). */
  name: string;
  family: 'vit' | 'cnn';
  architecture: string;
  embedDim: number;
  /** ViT only. */
  patchSize?: number;
  depth?: number;
  heads?: number;
  registers?: number;
  /** Native input [H, W]; other sizes are allowed where the family supports them. */
  inputSize: [number, number];
  /** Per-channel normalisation applied to [0,1] RGB input. */
  mean: [number, number, number];
  std: [number, number, number];
  licence: string;
  source: string;
  /** Files expected in the weights folder. */
  weightFiles: string[];
  /**
   * The frozen backbone's arithmetic on the CPU when a command is not told (`features`, `train
   * --mode frozen`, `demo`): int8 only where it was checked on real data against fp32 (the shipped
   * MobileNet v1: the demo's AUC within fp32's interval). Absent: fp32; other devices: fp32.
   */
  defaultPrecision?: 'fp32' | 'int8';
}

/** One place LoRA can attach: a linear ([out,in]) or a convolution ([out,in,kh,kw]). */
export interface LoraTarget {
  name: string;
  kind: 'linear' | 'conv';
  inFeatures: number;
  outFeatures: number;
  kernel?: [number, number];
  stride?: [number, number];
}

export interface BuildOptions {
  /** Input size [H, W]; must be a multiple of the patch size for ViTs. */
  inputSize: [number, number];
  /** LoRA on the backbone's attachment points; omit for the frozen backbone. */
  lora?: LoraConfig;
  /** Emit the last layer's CLS→patch attention (head-averaged) for heatmaps. */
  attention?: boolean;
  /**
   * false: the caller reads no patch tokens, only `cls` (and `attention`). A ViT whose CLS depends
   * on nothing else then runs its last block for the CLS query alone: the keys and values still
   * come from every token, the rest of that block (about 77 % of it, 6 % of a ViT-S/14 pass) is
   * skipped, and `patchTokens` is left out. Default true.
   */
  patchTokens?: boolean;
  /**
   * true: a graph that will only run forward, never be differentiated. A ViT then runs every
   * block's attention but the last (whose probabilities are `attention`) as one ONNX Runtime
   * com.microsoft MultiHeadAttention kernel. Default false: explicit MatMul/Softmax/MatMul,
   * which the autodiff differentiates.
   */
  fusedAttention?: boolean;
}

/** Values a backbone adds to a graph for pixel input [N,3,H,W] (normalised by the card). */
export interface BackboneValues {
  /** [N, d]: last-layer CLS token after the final norm (CNNs: the pooled embedding). */
  cls: Value;
  /**
   * [N, P, d]: patch tokens after the final norm, registers excluded (CNNs: last feature map,
   * flattened). Absent only when built with `patchTokens: false`.
   */
  patchTokens?: Value;
  /** Patch grid [gh, gw], P = gh·gw. */
  grid: [number, number];
  /** [N, P]: last layer's CLS→patch attention probabilities averaged over heads (ViTs). */
  attention?: Value;
}

/** A backbone's own integer graph: the same values, and how they were computed. */
export interface IntegerBackboneValues extends BackboneValues {
  /** Provenance, in words, starting with a stable identifier (e.g. `tflite-uint8-qlinear`). */
  method: string;
  /**
   * The step between the embedding's values (its codes' scale), when they are rounded: a pooled
   * embedding then lies up to half a step from the mean of the feature map (TFLite's average
   * pool rounds), which a class activation map has to allow for.
   */
  clsStep?: number;
}

export interface Backbone {
  readonly card: BackboneCard;
  /** sha256 of the weights, hex; plugins record it and refuse another backbone. */
  readonly weightHash: string;
  loraTargets(): LoraTarget[];
  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues;
  /**
   * Optional: the network in the integer arithmetic its weights were quantised for (a uint8
   * TFLite file). `precision: 'int8'` runs this instead of quantising the float graph's
   * MatMuls, which a CNN barely has. Frozen only: it takes no LoRA.
   */
  buildInteger?(g: GraphBuilder, pixels: Value, options: Omit<BuildOptions, 'lora'>): IntegerBackboneValues;
  /** The `method` buildInteger's values carry, known before building: int8 feature caches are keyed by it. */
  readonly integerMethod?: string;
}
