import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '@anymc3d/core/util';
import { describe, expect, it } from 'vitest';
import { dequantize } from './dequantize.js';
import { BUILTIN, readTflite, type TfliteTensor } from './model.js';

const V1 = fileURLToPath(
  new URL(
    '../../assets/mobilenet/mobilenet_v1_224/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
    import.meta.url,
  ),
);

describe('TFLite reader', () => {
  it('reads the v1 graph: ops, shapes, uint8 quantisation', () => {
    const m = readTflite(new Uint8Array(readFileSync(V1)), 'v1.tflite');
    expect(m.operators.filter((o) => o.code === BUILTIN.CONV_2D)).toHaveLength(14);
    expect(m.operators.filter((o) => o.code === BUILTIN.DEPTHWISE_CONV_2D)).toHaveLength(13);
    const input = m.tensors[m.inputs[0]!]!;
    expect(input).toMatchObject({ shape: [1, 224, 224, 3], type: 'uint8' });
    expect(input.quantization).toEqual({ scale: [0.0078125], zeroPoint: [128], axis: 0 });
    expect(m.tensors[m.outputs[0]!]!.shape).toEqual([1, 1, 1, 1024]);
    const first = m.operators[0]!;
    expect(first.options).toMatchObject({ kind: 'conv', padding: 'same', stride: [2, 2], activation: 'relu6' });
    expect(m.tensors[first.inputs[1]!]!.shape).toEqual([32, 3, 3, 3]);
  });

  it('refuses a file that is not TFLite, and a truncated one, with an InputError naming it', () => {
    expect(() => readTflite(new TextEncoder().encode('hello, not a model'), 'x.tflite')).toThrow(InputError);
    expect(() => readTflite(new TextEncoder().encode('hello, not a model'), 'x.tflite')).toThrow(/x\.tflite/);
    const bytes = new Uint8Array(readFileSync(V1));
    expect(() => readTflite(bytes.subarray(0, 4096), 'cut.tflite')).toThrow(/cut\.tflite: damaged TFLite file/);
  });
});

describe('dequantize', () => {
  const bytes = (values: number[]) => Uint8Array.from(values);
  it('applies real = scale × (q − zero_point) per tensor', () => {
    const t: TfliteTensor = {
      index: 0,
      name: 'w',
      shape: [3],
      type: 'uint8',
      data: bytes([0, 128, 255]),
      quantization: { scale: [0.5], zeroPoint: [128], axis: 0 },
    };
    expect(Array.from(dequantize(t))).toEqual([-64, 0, 63.5]);
  });

  it('applies one scale and zero point per slice along the quantised axis', () => {
    const t: TfliteTensor = {
      index: 0,
      name: 'w',
      shape: [2, 3],
      type: 'int8',
      data: bytes([1, 2, 3, 0xff, 0xfe, 0xfd]),
      quantization: { scale: [1, 2, 4], zeroPoint: [0, 1, 0], axis: 1 },
    };
    expect(Array.from(dequantize(t))).toEqual([1, 2, 12, -1, -6, -12]);
  });

  it('reads int32 biases', () => {
    const data = new Uint8Array(new Int32Array([-3, 5]).buffer);
    const t: TfliteTensor = {
      index: 0,
      name: 'b',
      shape: [2],
      type: 'int32',
      data,
      quantization: { scale: [0.25], zeroPoint: [0], axis: 0 },
    };
    expect(Array.from(dequantize(t))).toEqual([-0.75, 1.25]);
  });
});
