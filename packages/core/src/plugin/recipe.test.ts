import { describe, expect, it } from 'vitest';
import { inputViews, type PluginInput } from './input.js';
import { recipeFeatureCache } from './recipe.js';

const input: PluginInput = {
  views: [{ name: 'axial', axis: 'axial' }],
  size: [8, 8],
  channels: { replicate: true, range: [-100, 100] },
  normalisation: null,
};
const views = inputViews(input, { mean: [0, 0, 0], std: [1, 1, 1] });

describe("a recipe's feature cache", () => {
  it("keys int8 tokens by the backbone's own integer method, so another arithmetic never serves stale ones", () => {
    const folder = (backbone: { weightHash: string; integerMethod?: string }, precision: 'fp32' | 'int8') =>
      recipeFeatureCache('/cache', backbone, input, views, precision).dir;
    const plain = { weightHash: 'a'.repeat(64) };
    const exact = { ...plain, integerMethod: 'tflite-uint8-integer: exact' };
    const qlinear = { ...plain, integerMethod: 'tflite-uint8-qlinear: onnxruntime' };
    expect(folder(exact, 'int8')).not.toBe(folder(qlinear, 'int8'));
    expect(folder(plain, 'int8')).not.toBe(folder(qlinear, 'int8'));
    // fp32 tokens do not depend on the integer method.
    expect(folder(exact, 'fp32')).toBe(folder(qlinear, 'fp32'));
    expect(folder(plain, 'fp32')).not.toBe(folder(plain, 'int8'));
  });
});
