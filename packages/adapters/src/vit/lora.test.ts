import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backboneGraph, DEFAULT_LORA, loraParamCount } from '@anymc3d/core/backbone';
import { OnnxSession, type Tensor, toOnnx } from '@anymc3d/core/graph';
import { encodeSafetensors } from '@anymc3d/core/io';
import { randomNormal } from '@anymc3d/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFolder } from '../registry/index.js';
import {
  maxRelativeError,
  mergeLora as merge,
  randomDinov2Tensors,
  tinyDinov2Config,
  writeTinyDinov2,
} from '../testing/index.js';
import { parseDinov2Config } from './config.js';
import { dinov2LoraTargets } from './dinov2.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('DINOv2 LoRA attachment points', () => {
  it('targets the patch embedding, fused qkv and out-projection (≈0.47M for ViT-B/14 with 18 labels)', () => {
    const vitB = parseDinov2Config(
      { model_type: 'dinov2', hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, patch_size: 14 },
      'cfg',
    );
    const targets = dinov2LoraTargets(vitB);
    expect(targets.map((t) => t.name).slice(0, 3)).toEqual(['patch_embed', 'blocks.0.qkv', 'blocks.0.proj']);
    expect(targets.find((t) => t.name === 'blocks.11.qkv')).toMatchObject({ inFeatures: 768, outFeatures: 2304 });
    const total = loraParamCount(targets, 8) + 768 + 768 * 18 + 18;
    expect(total).toBe(8 * 3 * 14 * 14 + 768 * 8 + 12 * (8 * 768 + 2304 * 8 + 8 * 768 + 768 * 8) + 768 + 768 * 18 + 18);
    expect(Math.abs(total - 470_000)).toBeLessThan(10_000);
  });

  it('LoRA fed as graph inputs equals the same adapters merged into the HF weights, and a merged export', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lora-'));
    dirs.push(dir);
    await writeTinyDinov2(join(dir, 'base'), { registers: 1 });
    const backbone = await loadFolder(join(dir, 'base'));
    const graph = backboneGraph(backbone, [12, 16], DEFAULT_LORA);
    const lora = [...graph.params.values()].filter((p) => p.role === 'trainable');
    expect(lora.map((p) => p.name)).toContain('lora.blocks.1.qkv.B');
    expect(lora).toHaveLength(2 * (1 + 2 * 2));
    const pixels = randomNormal([2, 3, 12, 16], 7, 1);
    const session = await OnnxSession.create(toOnnx(graph), { threads: 1 });
    // Zero B (the initial state) leaves the frozen backbone unchanged.
    const zeroFeeds: Record<string, Tensor> = { pixels };
    for (const p of lora) zeroFeeds[p.name] = p.value;
    const frozen = await session.run(zeroFeeds);
    const frozenOnly = await OnnxSession.create(toOnnx(backboneGraph(backbone, [12, 16])), { threads: 1 });
    const plain = await frozenOnly.run({ pixels });
    expect(maxRelativeError(frozen.cls!.data as Float32Array, plain.cls!.data as Float32Array)).toBeLessThan(1e-6);

    const values = new Map<string, Tensor>();
    for (const [k, p] of lora.entries()) {
      values.set(p.name, p.name.endsWith('.B') ? randomNormal([...p.value.dims], 100 + k, 0.2) : p.value);
    }
    const feeds: Record<string, Tensor> = { pixels };
    for (const [name, v] of values) feeds[name] = v;
    const adapted = await session.run(feeds);
    expect(maxRelativeError(adapted.cls!.data as Float32Array, plain.cls!.data as Float32Array)).toBeGreaterThan(1e-3);

    // The same adapters merged into the Hugging Face tensors (qkv rows split back into q, k, v).
    const raw = tinyDinov2Config({ registers: 1 });
    const hf = randomDinov2Tensors(parseDinov2Config(raw, 'cfg'));
    const scale = DEFAULT_LORA.alpha / DEFAULT_LORA.rank;
    const pe = 'embeddings.patch_embeddings.projection.weight';
    hf.set(pe, merge(hf.get(pe)!, values.get('lora.patch_embed.A')!, values.get('lora.patch_embed.B')!, scale));
    for (let i = 0; i < 2; i++) {
      const att = `encoder.layer.${i}.attention.`;
      const names = ['query', 'key', 'value'].map((k) => `${att}attention.${k}.weight`);
      const fused: Tensor = { dtype: 'float32', dims: [96, 32], data: new Float32Array(96 * 32) };
      for (const [k, n] of names.entries()) (fused.data as Float32Array).set(hf.get(n)!.data as Float32Array, k * 1024);
      const merged = merge(fused, values.get(`lora.blocks.${i}.qkv.A`)!, values.get(`lora.blocks.${i}.qkv.B`)!, scale);
      for (const [k, n] of names.entries()) {
        const data = (merged.data as Float32Array).slice(k * 1024, (k + 1) * 1024);
        hf.set(n, { dtype: 'float32', dims: [32, 32], data });
      }
      const proj = `${att}output.dense.weight`;
      hf.set(
        proj,
        merge(hf.get(proj)!, values.get(`lora.blocks.${i}.proj.A`)!, values.get(`lora.blocks.${i}.proj.B`)!, scale),
      );
    }
    await writeTiny(join(dir, 'merged'), raw, hf);
    const mergedBackbone = await loadFolder(join(dir, 'merged'));
    const mergedOut = await (
      await OnnxSession.create(toOnnx(backboneGraph(mergedBackbone, [12, 16])), { threads: 1 })
    ).run({ pixels });
    const baked = await (
      await OnnxSession.create(toOnnx(graph, { trainable: 'initializers', trainableValues: values }), { threads: 1 })
    ).run({ pixels });
    for (const name of ['cls', 'patch_tokens', 'attention']) {
      expect(
        maxRelativeError(adapted[name]!.data as Float32Array, mergedOut[name]!.data as Float32Array),
        name,
      ).toBeLessThan(1e-4);
      expect(
        maxRelativeError(baked[name]!.data as Float32Array, adapted[name]!.data as Float32Array),
        name,
      ).toBeLessThan(1e-6);
    }
  });
});

async function writeTiny(dir: string, raw: Record<string, unknown>, tensors: Map<string, Tensor>) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(raw));
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
}
