import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type {
  Backbone,
  BackboneCard,
  BackboneValues,
  BuildOptions,
  IntegerBackboneValues,
  LoraConfig,
  LoraTarget,
} from '@anymc3d/core/backbone';
import type { GraphBuilder, Value } from '@anymc3d/core/graph';
import { InputError } from '@anymc3d/core/util';
import { readTflite, type TfliteModel } from '../tflite/index.js';
import { type ConvertedNetwork, convertTflite, pointwiseTargets } from './convert.js';
import { dequantizeCodes } from './fixed-point.js';
import { convertTfliteInteger, type IntegerArithmetic, type IntegerNetwork } from './integer.js';

/** The shipped MobileNets (Apache-2.0, google-coral/test_data); cards live beside their weights. */
export const MOBILENET_NAMES = ['mobilenet_v1_224', 'mobilenet_v2_224'] as const;
export type MobileNetName = (typeof MOBILENET_NAMES)[number];

export const MOBILENET_ASSETS = fileURLToPath(new URL('../../assets/mobilenet/', import.meta.url));

export function mobilenetCardPath(name: MobileNetName, assets = MOBILENET_ASSETS): string {
  return `${assets}${name}/backbone.json`;
}

async function readCard(path: string): Promise<BackboneCard> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(path, 'backbone card not found', { cause: error });
  }
  let card: Partial<BackboneCard>;
  try {
    card = JSON.parse(text) as Partial<BackboneCard>;
  } catch (error) {
    throw new InputError(path, `backbone card is not valid JSON: ${(error as Error).message}`);
  }
  const triple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number');
  const problems = [
    typeof card.name !== 'string' && 'name',
    !triple(card.mean) && 'mean (3 numbers)',
    !triple(card.std) && 'std (3 numbers)',
    !(Array.isArray(card.inputSize) && card.inputSize.length === 2) && 'inputSize [H, W]',
    typeof card.embedDim !== 'number' && 'embedDim',
    !(Array.isArray(card.weightFiles) && card.weightFiles.length > 0) && 'weightFiles',
    card.defaultPrecision !== undefined &&
      !['fp32', 'int8'].includes(card.defaultPrecision) &&
      'defaultPrecision ("fp32" or "int8")',
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length) throw new InputError(path, `backbone card lacks or has a bad ${problems.join(', ')}`);
  return card as BackboneCard;
}

/** The cards of the shipped MobileNets, for a registry to list. */
export async function mobilenetCards(assets = MOBILENET_ASSETS): Promise<BackboneCard[]> {
  return Promise.all(MOBILENET_NAMES.map((n) => readCard(mobilenetCardPath(n, assets))));
}

export interface NetworkOptions {
  inputSize: [number, number];
  lora?: LoraConfig;
  /** Re-insert the file's uint8 activation rounding (reproduces the integer model). */
  fakeQuant?: boolean;
}

/** The provenance method of `precision: 'int8'` on a uint8 TFLite backbone (integer.ts, `onnxruntime`). */
export const TFLITE_INTEGER_METHOD =
  "tflite-uint8-qlinear: the file's uint8 weights, scales and zero points on ONNX Runtime's QLinearConv (exact int32 accumulators, float requantisation rounded once), outputs dequantised";

/**
 * A MobileNet read from its TFLite file and rebuilt as a float network. As a `Backbone`:
 * `cls` is the globally pooled last feature map [N, C], `patchTokens` that map flattened
 * [N, h·w, C]; no attention. LoRA attaches to the pointwise 1×1 convolutions.
 */
export class MobileNetBackbone implements Backbone {
  readonly integerMethod = TFLITE_INTEGER_METHOD;

  constructor(
    readonly card: BackboneCard,
    readonly weightHash: string,
    readonly model: TfliteModel,
    readonly source: string,
  ) {}

  loraTargets(): LoraTarget[] {
    return pointwiseTargets(this.model);
  }

  /** Input quantisation of the file: uint8 value u maps to scale·(u − zeroPoint). */
  get inputQuantization(): { scale: number; zeroPoint: number } {
    const q = this.model.tensors[this.model.inputs[0]!]!.quantization;
    return { scale: q?.scale[0] ?? 1 / 255, zeroPoint: q?.zeroPoint[0] ?? 0 };
  }

  build(g: GraphBuilder, pixels: Value, options: BuildOptions): BackboneValues {
    // A CNN has no attention: `attention` is left out even when asked for, and heatmaps use the
    // feature map (patchTokens) instead.
    const net = this.network(
      g,
      pixels,
      { inputSize: options.inputSize, ...(options.lora ? { lora: options.lora } : {}) },
      true,
    );
    const [, c, h, w] = net.features.shape as [number | string, number, number, number];
    const cls = g.op('Reshape', [net.pooled, g.ints([-1, c])]);
    const flat = g.op('Reshape', [net.features, g.ints([-1, c, h * w])]);
    const patchTokens = g.op('Transpose', [flat], { perm: [0, 2, 1] });
    return { cls, patchTokens, grid: [h, w] };
  }

  /**
   * The file's integer network on ONNX Runtime's integer kernels (integer.ts, `onnxruntime`):
   * the same `cls` / `patchTokens` contract, dequantised from the uint8 codes. Frozen: LoRA
   * needs the float graph.
   */
  buildInteger(g: GraphBuilder, pixels: Value, options: Omit<BuildOptions, 'lora'>): IntegerBackboneValues {
    if ('lora' in options && options.lora) {
      throw new InputError(this.card.name, 'the integer graph is frozen; LoRA attaches to the float graph (fp32)');
    }
    const net = this.integerNetwork(g, pixels, { inputSize: options.inputSize }, true);
    const pooled = dequantizeCodes(g, net.pooled.codes, net.pooled.scale, net.pooled.zeroPoint);
    const [, c, h, w] = net.features.codes.shape as [number | string, number, number, number];
    const cls = g.op('Reshape', [pooled, g.ints([-1, c])]);
    // The uint8 codes are laid out as [N, h·w, C] before they widen to float32 (a quarter of the bytes moved).
    const flat = g.op('Reshape', [net.features.codes, g.ints([-1, c, h * w])]);
    const codes = g.op('Transpose', [flat], { perm: [0, 2, 1] });
    const patchTokens = dequantizeCodes(g, codes, net.features.scale, net.features.zeroPoint);
    return { cls, patchTokens, grid: [h, w], method: TFLITE_INTEGER_METHOD, clsStep: net.pooled.scale };
  }

  /**
   * The whole network in integer arithmetic (uint8 codes; up to the logits): ONNX Runtime's
   * kernels by default, or `tflite-exact`, TFLite's own codes (the reference, ~4× slower).
   */
  integerNetwork(
    g: GraphBuilder,
    pixels: Value,
    options: { inputSize: [number, number]; arithmetic?: IntegerArithmetic },
    stopAfterPool = false,
  ): IntegerNetwork {
    this.checkSize(options.inputSize);
    const arithmetic = options.arithmetic ?? 'onnxruntime';
    return g.scope(`${this.card.name}_integer`, () =>
      convertTfliteInteger(g, this.model, pixels, {
        inputSize: options.inputSize,
        stopAfterPool,
        source: this.source,
        arithmetic,
      }),
    );
  }

  private checkSize(inputSize: [number, number]): void {
    if (inputSize[0] < 32 || inputSize[1] < 32) {
      throw new InputError(this.card.name, `input size ${inputSize.join('×')} is below 32×32`);
    }
  }

  /** The whole network (with the classifier, where the file has one). */
  network(g: GraphBuilder, pixels: Value, options: NetworkOptions, stopAfterPool = false): ConvertedNetwork {
    this.checkSize(options.inputSize);
    return g.scope(this.card.name, () =>
      convertTflite(g, this.model, pixels, {
        inputSize: options.inputSize,
        stopAfterPool,
        source: this.source,
        ...(options.lora ? { lora: options.lora } : {}),
        ...(options.fakeQuant ? { fakeQuant: true } : {}),
      }),
    );
  }
}

/** Loads a shipped MobileNet by registry name (`mobilenet_v1_224`, `mobilenet_v2_224`). */
export async function loadMobileNet(name: string, assets = MOBILENET_ASSETS): Promise<MobileNetBackbone> {
  if (!(MOBILENET_NAMES as readonly string[]).includes(name)) {
    throw new InputError(name, `unknown MobileNet; known: ${MOBILENET_NAMES.join(', ')}`);
  }
  const cardPath = mobilenetCardPath(name as MobileNetName, assets);
  const card = await readCard(cardPath);
  const weightFile = card.weightFiles[0];
  if (!weightFile) throw new InputError(cardPath, 'card lists no weight file');
  return loadTfliteBackbone(card, fileURLToPath(new URL(weightFile, `file://${cardPath}`)));
}

/** A TFLite MobileNet-like CNN from any path, with the card that describes it. */
export async function loadTfliteBackbone(card: BackboneCard, tflitePath: string): Promise<MobileNetBackbone> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(tflitePath));
  } catch (error) {
    throw new InputError(tflitePath, 'TFLite weights not found', { cause: error });
  }
  const weightHash = createHash('sha256').update(bytes).digest('hex');
  return new MobileNetBackbone(card, weightHash, readTflite(bytes, tflitePath), tflitePath);
}

/** The card's [0,1]-scale mean/std that reproduce a uint8 input quantisation (scale, zero point). */
export function normalisationFor(scale: number, zeroPoint: number): { mean: number; std: number } {
  // scale·(255·v − zp) = (v − zp/255) / (1/(255·scale))
  return { mean: zeroPoint / 255, std: 1 / (255 * scale) };
}
