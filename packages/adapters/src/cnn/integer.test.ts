import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { BackboneEmbedder, buildBackboneGraph, DEFAULT_LORA } from '@anymc3d/core/backbone';
import { GraphBuilder, OnnxSession, type Tensor, tensor, toOnnx } from '@anymc3d/core/graph';
import { cosine } from '@anymc3d/core/testing';
import { InputError } from '@anymc3d/core/util';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBmp } from './bmp.js';
import { loadMobileNet, type MobileNetBackbone, TFLITE_INTEGER_METHOD } from './mobilenet.js';
import { normalisePixels, resizeBilinear } from './resize.js';

/**
 * The integer graph against fixtures/tflite_ref.py's integer run of the same uint8 files
 * (make_mobilenet_reference.py), on the very uint8 inputs the reference saw: the fixture
 * records the sha256 of each resized image, and resize.ts must reproduce it. Both arithmetics:
 * `tflite-exact` against TFLite's fixed-point requantisation, `onnxruntime` (QLinearConv)
 * against the same reference requantising with a float multiplier and one rounding.
 */
const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../../../shared/models/mobilenet-imagenet/', import.meta.url));
const IMAGES = ['cat', 'bird', 'grace_hopper'] as const;

interface Reference {
  images: Record<
    string,
    {
      input_sha256: string;
      v1_integer_embedding: number[];
      v2_integer_logits: number[];
      v1_float_requant_embedding: number[];
      v2_float_requant_logits: number[];
    }
  >;
  v1_output_quantization: { scale: number; zero_point: number };
}
const reference = JSON.parse(readFileSync(`${FIXTURES}mobilenet_reference.json`, 'utf8')) as Reference;
/** [image, 7, 7, 1024] NHWC uint8 codes of v1's last feature map. */
const referenceFeatures = gunzipSync(readFileSync(`${FIXTURES}mobilenet_v1_features.u8.gz`));

function batch(backbone: MobileNetBackbone): Tensor {
  const data = new Float32Array(IMAGES.length * 3 * 224 * 224);
  IMAGES.forEach((name, k) => {
    const image = resizeBilinear(readBmp(readFileSync(`${SHARED}${name}.bmp`), `${name}.bmp`), 224, 224);
    expect(createHash('sha256').update(image.data).digest('hex'), `${name}: same input as the reference`).toBe(
      reference.images[name]!.input_sha256,
    );
    data.set(normalisePixels(image, backbone.card.mean, backbone.card.std), k * 3 * 224 * 224);
  });
  return tensor('float32', [IMAGES.length, 3, 224, 224], data);
}

function equalFraction(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

describe('MobileNet v1 in integer arithmetic', () => {
  let v1: MobileNetBackbone;
  let pixels: Tensor;
  beforeAll(async () => {
    v1 = await loadMobileNet('mobilenet_v1_224');
    pixels = batch(v1);
  });

  it('tflite-exact: computes the uint8 codes of the integer reference, pooled embedding and last feature map', async () => {
    const g = new GraphBuilder('v1int');
    const input = g.input('pixels', 'float32', ['N', 3, 224, 224]);
    const net = v1.integerNetwork(g, input, { inputSize: [224, 224], arithmetic: 'tflite-exact' }, true);
    // 27 convs: where no sum can reach 2^24 (depthwise, the first conv, narrow pointwise) float32
    // is exact; the wide pointwise convs need ConvInteger.
    expect(net.convs.float32 + net.convs.integer).toBe(27);
    expect(net.convs.integer).toBeGreaterThan(0);
    expect(net.convs.qlinear).toBe(0);
    g.output(net.pooled.codes, 'pooled');
    g.output(net.features.codes, 'features');
    const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
    const out = await session.run({ pixels });
    await session.release();
    const pooled = out.pooled!.data as Uint8Array;
    const features = out.features!.data as Uint8Array;
    expect(out.features!.dims).toEqual([3, 1024, 7, 7]);
    const { scale, zero_point } = reference.v1_output_quantization;
    const fractions: Record<string, number> = {};
    IMAGES.forEach((name, k) => {
      const ref = reference.images[name]!.v1_integer_embedding;
      const mine = pooled.subarray(k * 1024, (k + 1) * 1024);
      const real = (q: ArrayLike<number>) => Array.from(q, (v) => scale * (v - zero_point));
      expect(cosine(real(mine), real(ref)), name).toBeGreaterThanOrEqual(0.9999);
      fractions[`${name} pooled`] = equalFraction(mine, ref);
      // NCHW → the reference's HWC.
      const hwc = new Uint8Array(49 * 1024);
      for (let c = 0; c < 1024; c++) {
        for (let p = 0; p < 49; p++) hwc[p * 1024 + c] = features[(k * 1024 + c) * 49 + p]!;
      }
      fractions[`${name} features`] = equalFraction(
        hwc,
        referenceFeatures.subarray(k * 49 * 1024, (k + 1) * 49 * 1024),
      );
    });
    console.log('exactly equal uint8 codes, integer graph vs reference:', fractions);
    // Measured 1.0 everywhere; the margin allows a rare tie broken differently, not a drift.
    for (const [what, f] of Object.entries(fractions)) expect(f, what).toBeGreaterThanOrEqual(0.999);
  });

  it("onnxruntime: QLinearConv computes the codes of the float-requantising reference, near TFLite's own", async () => {
    const g = new GraphBuilder('v1qlinear');
    const input = g.input('pixels', 'float32', ['N', 3, 224, 224]);
    const net = v1.integerNetwork(g, input, { inputSize: [224, 224] }, true);
    expect(net.convs).toEqual({ qlinear: 27, float32: 0, integer: 0 });
    g.output(net.pooled.codes, 'pooled');
    const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
    const pooled = (await session.run({ pixels })).pooled!.data as Uint8Array;
    await session.release();
    const { scale, zero_point } = reference.v1_output_quantization;
    const real = (q: ArrayLike<number>) => Array.from(q, (v) => scale * (v - zero_point));
    const fractions: Record<string, number> = {};
    IMAGES.forEach((name, k) => {
      const mine = pooled.subarray(k * 1024, (k + 1) * 1024);
      fractions[name] = equalFraction(mine, reference.images[name]!.v1_float_requant_embedding);
      // One rounding instead of TFLite's two moves codes by a step where a value lies near a
      // boundary, and the moves propagate: 39-42 % of pooled codes equal TFLite's, cosine
      // 0.99938-0.99956 measured (the float rebuild: 0.9991-0.9996).
      expect(cosine(real(mine), real(reference.images[name]!.v1_integer_embedding)), name).toBeGreaterThan(0.999);
    });
    console.log('exactly equal pooled codes, QLinearConv vs float-requantising reference:', fractions);
    // Measured 1.0; the margin allows a float32 tie rounded differently, not a drift.
    for (const [what, f] of Object.entries(fractions)) expect(f, what).toBeGreaterThanOrEqual(0.999);
  });

  it("embeds through BackboneEmbedder at precision int8 with provenance naming the file's integer method", async () => {
    const embedder = new BackboneEmbedder(v1, { threads: 1, precision: 'int8', batchSize: 3 });
    try {
      const out = await embedder.embed(pixels);
      expect(embedder.provenance).toMatchObject({ precision: 'int8', method: TFLITE_INTEGER_METHOD });
      expect(embedder.provenance!.method.startsWith('tflite-uint8-qlinear')).toBe(true);
      expect(v1.integerMethod).toBe(TFLITE_INTEGER_METHOD);
      expect(out.cls.dims).toEqual([3, 1024]);
      expect(out.patchTokens!.dims).toEqual([3, 49, 1024]);
      expect(out.grid).toEqual([7, 7]);
      const { scale, zero_point } = reference.v1_output_quantization;
      const cls = out.cls.data as Float32Array;
      const patches = out.patchTokens!.data as Float32Array;
      // The embedding is the feature map's mean rounded to a code: within half a step of it, and
      // not always equal (what a class activation map must allow for, case-heatmap.ts).
      expect(out.clsStep).toBeCloseTo(scale, 9);
      let worst = 0;
      for (let k = 0; k < 3; k++)
        for (let c = 0; c < 1024; c++) {
          let mean = 0;
          for (let p = 0; p < 49; p++) mean += patches[(k * 49 + p) * 1024 + c]! / 49;
          worst = Math.max(worst, Math.abs(mean - cls[k * 1024 + c]!));
        }
      expect(worst).toBeGreaterThan(1e-3 * scale);
      expect(worst).toBeLessThanOrEqual(scale / 2 + 1e-6);
      // patch_tokens are the dequantised feature map in the float path's [N, h·w, C] layout.
      const g = new GraphBuilder('v1features');
      const input = g.input('pixels', 'float32', ['N', 3, 224, 224]);
      g.output(v1.integerNetwork(g, input, { inputSize: [224, 224] }, true).features.codes, 'features');
      const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
      const codes = (await session.run({ pixels })).features!.data as Uint8Array;
      await session.release();
      IMAGES.forEach((name, k) => {
        const ref = reference.images[name]!.v1_float_requant_embedding.map((q) => scale * (q - zero_point));
        expect(cosine(cls.subarray(k * 1024, (k + 1) * 1024), ref)).toBeGreaterThanOrEqual(0.99999);
        let worstPatch = 0;
        for (let c = 0; c < 1024; c++)
          for (let p = 0; p < 49; p++) {
            const expected = scale * (codes[(k * 1024 + c) * 49 + p]! - zero_point);
            worstPatch = Math.max(worstPatch, Math.abs(patches[(k * 49 + p) * 1024 + c]! - expected));
          }
        expect(worstPatch).toBeLessThan(1e-6);
      });
    } finally {
      await embedder.release();
    }
  });

  it('refuses int8 together with LoRA, naming the backbone', () => {
    expect(() => buildBackboneGraph(v1, [224, 224], DEFAULT_LORA, 'int8')).toThrow(InputError);
    expect(() => buildBackboneGraph(v1, [224, 224], DEFAULT_LORA, 'int8')).toThrow(
      /mobilenet_v1_224: precision int8 runs the frozen backbone only; LoRA .* needs precision fp32/,
    );
    const g = new GraphBuilder('lora');
    const input = g.input('pixels', 'float32', ['N', 3, 224, 224]);
    const options = { inputSize: [224, 224] as [number, number], lora: DEFAULT_LORA };
    expect(() => v1.buildInteger(g, input, options)).toThrow(/integer graph is frozen/);
  });
});

describe('MobileNet v2 in integer arithmetic', () => {
  it.each([
    ['tflite-exact', 'v2_integer_logits'],
    ['onnxruntime', 'v2_float_requant_logits'],
  ] as const)('%s: computes the logits codes of its reference (ADD included)', async (arithmetic, key) => {
    const v2 = await loadMobileNet('mobilenet_v2_224');
    const g = new GraphBuilder('v2int');
    const input = g.input('pixels', 'float32', ['N', 3, 224, 224]);
    const net = v2.integerNetwork(g, input, { inputSize: [224, 224], arithmetic });
    expect(net.convs.qlinear).toBe(arithmetic === 'onnxruntime' ? 53 : 0);
    g.output(net.logits!.codes, 'logits');
    const session = await OnnxSession.create(toOnnx(g.build()), { threads: 1 });
    const logits = (await session.run({ pixels: batch(v2) })).logits!.data as Uint8Array;
    await session.release();
    const fractions = IMAGES.map((name, k) =>
      equalFraction(logits.subarray(k * 1001, (k + 1) * 1001), reference.images[name]![key]),
    );
    console.log(`exactly equal v2 logit codes (${arithmetic}):`, fractions);
    for (const f of fractions) expect(f).toBeGreaterThanOrEqual(0.999);
  });
});
