import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backboneGraph, DEFAULT_LORA, loraParamCount } from '@anymc3d/core/backbone';
import { OnnxSession, type Tensor, toOnnx } from '@anymc3d/core/graph';
import { encodeSafetensors } from '@anymc3d/core/io';
import { randomNormal } from '@anymc3d/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadFolder, resolveBackbone } from '../registry/index.js';
import {
  maxRelativeError,
  mergeLora,
  randomDinov3Tensors,
  tinyDinov3Config,
  writeTinyDinov3,
} from '../testing/index.js';
import { dinov3LoraTargets } from './dinov3.js';
import { parseDinov3Config } from './dinov3-config.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function writeFolder(dir: string, raw: Record<string, unknown>, tensors: Map<string, Tensor>) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(raw));
  await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(tensors));
}

const run = async (
  graph: Parameters<typeof toOnnx>[0],
  feeds: Record<string, Tensor>,
  trainable?: Map<string, Tensor>,
) =>
  (
    await OnnxSession.create(
      toOnnx(graph, trainable ? { trainable: 'initializers', trainableValues: trainable } : {}),
      {
        threads: 1,
      },
    )
  ).run(feeds);

describe('DINOv3 LoRA attachment points', () => {
  it("ViT-L/16 with a binary head has the paper's ≈1.20M trainable parameters", () => {
    const vitL = parseDinov3Config(
      {
        model_type: 'dinov3_vit',
        hidden_size: 1024,
        intermediate_size: 4096,
        num_hidden_layers: 24,
        num_attention_heads: 16,
        patch_size: 16,
        num_register_tokens: 4,
      },
      'cfg',
    );
    const targets = dinov3LoraTargets(vitL);
    expect(targets).toHaveLength(1 + 2 * 24);
    expect(targets.find((t) => t.name === 'blocks.23.qkv')).toMatchObject({ inFeatures: 1024, outFeatures: 3072 });
    expect(targets[0]).toMatchObject({ name: 'patch_embed', kind: 'conv', kernel: [16, 16] });
    const lora = loraParamCount(targets, 8);
    // patch embedding 8·3·16² + 1024·8; per block qkv 8·1024 + 3072·8 and proj 8·1024 + 1024·8
    expect(lora).toBe(1_193_984);
    const total = lora + 1024 + 1025; // + task query (d) + binary head (d weights + 1 bias)
    expect(total).toBe(1_196_033);
    expect(Math.abs(total - 1_200_000)).toBeLessThan(5_000);
  });

  for (const gated of [false, true]) {
    it(`LoRA fed as graph inputs equals the adapters merged into q/k/v, o_proj and the patch conv${gated ? ' (gated MLP)' : ''}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dinov3-lora-'));
      dirs.push(dir);
      const options = { registers: 2, gated };
      await writeTinyDinov3(join(dir, 'base'), options);
      const backbone = await loadFolder(join(dir, 'base'));
      const size: [number, number] = [12, 16];
      const graph = backboneGraph(backbone, size, DEFAULT_LORA);
      const lora = [...graph.params.values()].filter((p) => p.role === 'trainable');
      expect(lora).toHaveLength(2 * (1 + 2 * 2));
      const pixels = randomNormal([2, 3, ...size], 7, 1);

      // Zero B (the initial state) leaves the frozen backbone unchanged.
      const zeroFeeds: Record<string, Tensor> = { pixels };
      for (const p of lora) zeroFeeds[p.name] = p.value;
      const plain = await run(backboneGraph(backbone, size), { pixels });
      const frozen = await run(graph, zeroFeeds);
      expect(maxRelativeError(frozen.cls!.data as Float32Array, plain.cls!.data as Float32Array)).toBeLessThan(1e-6);

      const values = new Map<string, Tensor>();
      for (const [k, p] of lora.entries()) {
        values.set(p.name, p.name.endsWith('.B') ? randomNormal([...p.value.dims], 100 + k, 0.2) : p.value);
      }
      const feeds: Record<string, Tensor> = { pixels, ...Object.fromEntries(values) };
      const adapted = await run(graph, feeds);
      expect(maxRelativeError(adapted.cls!.data as Float32Array, plain.cls!.data as Float32Array)).toBeGreaterThan(
        1e-3,
      );

      // The same adapters merged into the Hugging Face tensors: fused qkv rows split back into
      // q_proj, k_proj (which has no bias) and v_proj.
      const raw = tinyDinov3Config(options);
      const hf = randomDinov3Tensors(parseDinov3Config(raw, 'cfg'));
      const scale = DEFAULT_LORA.alpha / DEFAULT_LORA.rank;
      const lo = (name: string, ab: 'A' | 'B') => values.get(`lora.${name}.${ab}`)!;
      const pe = 'embeddings.patch_embeddings.weight';
      hf.set(pe, mergeLora(hf.get(pe)!, lo('patch_embed', 'A'), lo('patch_embed', 'B'), scale));
      const d = 32;
      for (let i = 0; i < 2; i++) {
        const names = ['q_proj', 'k_proj', 'v_proj'].map((k) => `layer.${i}.attention.${k}.weight`);
        expect(hf.has(`layer.${i}.attention.k_proj.bias`)).toBe(false);
        const fused: Tensor = { dtype: 'float32', dims: [3 * d, d], data: new Float32Array(3 * d * d) };
        for (const [k, n] of names.entries())
          (fused.data as Float32Array).set(hf.get(n)!.data as Float32Array, k * d * d);
        const merged = mergeLora(fused, lo(`blocks.${i}.qkv`, 'A'), lo(`blocks.${i}.qkv`, 'B'), scale);
        for (const [k, n] of names.entries()) {
          const data = (merged.data as Float32Array).slice(k * d * d, (k + 1) * d * d);
          hf.set(n, { dtype: 'float32', dims: [d, d], data });
        }
        const o = `layer.${i}.attention.o_proj.weight`;
        hf.set(o, mergeLora(hf.get(o)!, lo(`blocks.${i}.proj`, 'A'), lo(`blocks.${i}.proj`, 'B'), scale));
      }
      await writeFolder(join(dir, 'merged'), raw, hf);
      const mergedOut = await run(backboneGraph(await loadFolder(join(dir, 'merged')), size), { pixels });
      const baked = await run(graph, { pixels }, values);
      for (const name of ['cls', 'patch_tokens', 'attention']) {
        const a = adapted[name]!.data as Float32Array;
        expect(maxRelativeError(a, mergedOut[name]!.data as Float32Array), name).toBeLessThan(1e-4);
        expect(maxRelativeError(baked[name]!.data as Float32Array, a), name).toBeLessThan(1e-6);
      }
    });
  }
});

describe('DINOv3 folders', () => {
  it('refuse configs and tensors that do not fit, naming the field or tensor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dinov3-bad-'));
    dirs.push(dir);
    const cfg = (extra: Record<string, unknown>) => ({ ...tinyDinov3Config(), ...extra });
    expect(() => parseDinov3Config(cfg({ num_attention_heads: 16 }), 'c.json')).toThrow(
      /head size 2 is not a multiple of 4/,
    );
    expect(() => parseDinov3Config(cfg({ hidden_act: 'relu' }), 'c.json')).toThrow(
      /hidden_act "relu" is not supported/,
    );
    expect(() => parseDinov3Config(cfg({ model_type: 'dinov2' }), 'c.json')).toThrow(/not a DINOv3 ViT model/);

    const raw = tinyDinov3Config();
    const tensors = randomDinov3Tensors(parseDinov3Config(raw, 'cfg'));
    tensors.delete('layer.1.attention.v_proj.bias');
    await writeFolder(join(dir, 'a'), raw, tensors);
    await expect(loadFolder(join(dir, 'a'))).rejects.toThrow(
      'tensor "layer.1.attention.v_proj.bias" is missing (expected shape [32])',
    );
    // A registry name whose folder holds another architecture is refused.
    await writeTinyDinov3(join(dir, 'dinov3_vits16'));
    await expect(resolveBackbone('dinov3_vits16', { weightsRoot: dir })).rejects.toThrow(
      /config.json: embedDim is 32 but backbone dinov3_vits16 expects 384/,
    );
  });
});
