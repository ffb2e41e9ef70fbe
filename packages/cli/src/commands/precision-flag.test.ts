import { loadMobileNet } from '@anymc3d/adapters';
import { type BackboneCard, tokenPrecision } from '@anymc3d/core/backbone';
import { servedPrecision } from '@anymc3d/core/plugin';
import { describe, expect, it } from 'vitest';
import { precisionFor } from './precision-flag.js';

describe("a command's precision when it is not told", () => {
  it("is the backbone card's default on the CPU, fp32 on other devices and where the card names none", async () => {
    const v1 = (await loadMobileNet('mobilenet_v1_224')).card;
    const v2 = (await loadMobileNet('mobilenet_v2_224')).card;
    // The shipped v1 was checked at int8 on the demo (AUC within fp32's interval); v2 was not.
    expect(v1.defaultPrecision).toBe('int8');
    expect(v2.defaultPrecision).toBeUndefined();
    expect(tokenPrecision(v1, 'cpu')).toBe('int8');
    expect(tokenPrecision(v1, 'webgpu')).toBe('fp32');
    expect(tokenPrecision(v1, 'cpu', 'fp32')).toBe('fp32');
    expect(tokenPrecision(v2, 'cpu')).toBe('fp32');
    expect(tokenPrecision({ ...v2, defaultPrecision: 'fp32' } as BackboneCard, 'cpu', 'int8')).toBe('int8');
  });

  it('is, for a plugin, the arithmetic its head was trained on; another one is said, not refused', () => {
    const lines: string[] = [];
    const frozen = { lora: null, backbone: { name: 'b', weightHash: 'h', precision: 'int8' as const } };
    expect(precisionFor(frozen, undefined, 'p', (l) => lines.push(l))).toBe('int8');
    expect(lines).toEqual([]);
    expect(precisionFor(frozen, 'fp32', 'p', (l) => lines.push(l))).toBe('fp32');
    expect(lines).toHaveLength(1);
    expect(precisionFor({ lora: null, backbone: { name: 'b', weightHash: 'h' } }, undefined, 'p')).toBe('fp32');
    // A LoRA plugin's adapted backbone runs fp32, whatever its card's backbone says.
    const lora = { lora: { rank: 8, alpha: 16, targets: ['qkv'] }, backbone: frozen.backbone };
    expect(servedPrecision(lora)).toBe('fp32');
    expect(servedPrecision(frozen)).toBe('int8');
    expect(servedPrecision(frozen, 'fp32')).toBe('fp32');
  });
});
