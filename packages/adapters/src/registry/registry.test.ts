import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '@anymc3d/core/io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomDinov2Tensors, tinyDinov2Config, towerFixture, writeTinyDinov2 } from '../testing/index.js';
import { parseDinov2Config } from '../vit/index.js';
import { backboneCard, listBackbones, resolveBackbone } from './registry.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'registry-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('backbone registry', () => {
  it('lists entries with wildcards and gives their cards', () => {
    const names = listBackbones('dinov2_*_reg').map((c) => c.name);
    expect(names).toEqual(['dinov2_vitb14_reg', 'dinov2_vitg14_reg', 'dinov2_vitl14_reg', 'dinov2_vits14_reg']);
    expect(listBackbones('rad_dino?')).toEqual([]);
    const b = backboneCard('dinov2_vitb14');
    expect([b.embedDim, b.depth, b.heads, b.patchSize, b.registers]).toEqual([768, 12, 12, 14, 0]);
    expect(backboneCard('rad_dino').architecture).toBe('Dinov2Model');
    expect(listBackbones('dinov3_*').map((c) => c.name)).toEqual([
      'dinov3_vitb16',
      'dinov3_vitl16',
      'dinov3_vits16',
      'dinov3_vits16plus',
    ]);
    const l = backboneCard('dinov3_vitl16');
    expect([l.embedDim, l.depth, l.heads, l.patchSize, l.registers, ...l.inputSize]).toEqual([
      1024, 24, 16, 16, 4, 224, 224,
    ]);
    expect(l.architecture).toBe('DINOv3ViTModel');
    expect(l.source).toBe('https://huggingface.co/facebook/dinov3-vitl16-pretrain-lvd1689m');
    expect(() => backboneCard('dinov2_vitx14')).toThrow(/unknown backbone.*dinov2_vitb14/);
  });

  it('loads a name from the weights root and checks the folder against the card', async () => {
    // A registry name whose folder holds a different architecture is refused, naming the field.
    await writeTinyDinov2(join(root, 'dinov2_vits14'));
    await expect(resolveBackbone('dinov2_vits14', { weightsRoot: root })).rejects.toThrow(
      /config.json: embedDim is 32 but backbone dinov2_vits14 expects 384/,
    );
    await expect(resolveBackbone('dinov2_vitb14', { weightsRoot: root })).rejects.toThrow(
      /dinov2_vitb14: folder is missing/,
    );
    const dir = join(root, 'tiny');
    const card = await writeTinyDinov2(dir, { name: 'tiny_test', registers: 2 });
    const b = await resolveBackbone(dir);
    expect(b.card).toEqual(card);
    expect(b.weightHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('says which file or tensor is missing or mismatched', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    await expect(resolveBackbone(empty)).rejects.toThrow(/config.json is missing/);
    const noWeights = join(root, 'no-weights');
    await mkdir(noWeights);
    await writeFile(join(noWeights, 'config.json'), JSON.stringify(tinyDinov2Config()));
    await expect(resolveBackbone(noWeights)).rejects.toThrow(/model.safetensors: file is missing/);

    const raw = tinyDinov2Config();
    const tensors = randomDinov2Tensors(parseDinov2Config(raw, 'config.json'));
    tensors.delete('encoder.layer.1.attention.attention.key.weight');
    await writeFile(join(noWeights, 'model.safetensors'), encodeSafetensors(tensors));
    await expect(resolveBackbone(noWeights)).rejects.toThrow(
      'tensor "encoder.layer.1.attention.attention.key.weight" is missing (expected shape [32, 32])',
    );
    tensors.set('encoder.layer.1.attention.attention.key.weight', {
      dtype: 'float32',
      dims: [32, 16],
      data: new Float32Array(512),
    });
    await writeFile(join(noWeights, 'model.safetensors'), encodeSafetensors(tensors));
    await expect(resolveBackbone(noWeights)).rejects.toThrow('has shape [32, 16], expected [32, 32]');
  });
});

describe('contrastive image towers in the registry', () => {
  it('lists the general and medical CLIP/SigLIP towers with their cards', () => {
    const cards = [
      'clip_vitb16',
      'siglip_base_patch16_224',
      'siglip_so400m_patch14_384',
      'medsiglip_448',
      'biomedclip_vitb16',
    ].map(backboneCard);
    expect(cards.map((c) => [c.architecture, c.embedDim, c.depth, c.heads, c.patchSize, c.inputSize[0]])).toEqual([
      ['CLIPVisionModel', 768, 12, 12, 16, 224],
      ['SiglipVisionModel', 768, 12, 12, 16, 224],
      ['SiglipVisionModel', 1152, 27, 16, 14, 384],
      ['SiglipVisionModel', 1152, 27, 16, 14, 448],
      ['OpenCLIPTimmViT', 768, 12, 12, 16, 224],
    ]);
    for (const c of cards) expect(c.licence.length && c.source.startsWith('https://huggingface.co/')).toBeTruthy();
    expect(backboneCard('medsiglip_448').mean).toEqual([0.5, 0.5, 0.5]);
    expect(backboneCard('biomedclip_vitb16').weightFiles).toEqual([
      'open_clip_config.json',
      'open_clip_model.safetensors',
    ]);
    expect(() => backboneCard('medgemma_siglip')).toThrow(/use medsiglip_448/);
  });

  it('a folder of another architecture names its model_type and the supported ones', async () => {
    const dir = join(root, 'swin');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'swin', embed_dim: 96 }));
    await expect(resolveBackbone(dir)).rejects.toThrow(
      /config.json: model_type "swin" is not supported \(supported: dinov2, dinov2_with_registers, dinov3_vit, clip, clip_vision_model, siglip, siglip_vision_model; open_clip timm towers: open_clip_config.json\)/,
    );
  });

  it('an open_clip folder holding only the pickle is told to convert it, not read', async () => {
    const dir = join(root, 'biomedclip_vitb16');
    await cp(towerFixture('open-clip-timm-tiny'), dir, { recursive: true });
    await rename(join(dir, 'open_clip_model.safetensors'), join(dir, 'open_clip_pytorch_model.bin'));
    await expect(resolveBackbone(dir)).rejects.toThrow(/run `anymc3d backbones convert .*biomedclip_vitb16` once/);
    // A registry name whose folder holds a tower of another size is refused, naming the field.
    await rename(join(dir, 'open_clip_pytorch_model.bin'), join(dir, 'open_clip_model.safetensors'));
    await expect(resolveBackbone('biomedclip_vitb16', { weightsRoot: root })).rejects.toThrow(
      /open_clip_config.json: embedDim is 32 but backbone biomedclip_vitb16 expects 768/,
    );
  });
});

describe('embedded MobileNets', () => {
  it('are listed and load without a weights folder', async () => {
    expect(listBackbones('mobilenet*').map((c) => c.name)).toEqual(['mobilenet_v1_224', 'mobilenet_v2_224']);
    const b = await resolveBackbone('mobilenet_v1_224');
    expect(b.card.embedDim).toBe(1024);
    expect(b.weightHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a known but unimplemented family says so', async () => {
    await expect(resolveBackbone('medimageinsight')).rejects.toThrow(/not implemented/);
  });
});
