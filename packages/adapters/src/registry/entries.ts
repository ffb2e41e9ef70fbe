import type { BackboneCard } from '@anymc3d/core/backbone';
import {
  DINOV2_WEIGHT_FILES,
  DINOV3_WEIGHT_FILES,
  OPEN_CLIP_WEIGHT_FILES,
  OPENAI_CLIP_NORMALISATION,
  SIGLIP_NORMALISATION,
  TOWER_WEIGHT_FILES,
} from '../vit/index.js';

/**
 * Built-in registry entries: one name = architecture + weights + preprocessing. Numbers follow
 * each model's Hugging Face config.json and preprocessor_config.json; the weights themselves are
 * downloaded by the user (never at run time) into `<weights root>/<name>/`.
 */

const IMAGENET = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
};

interface VitSize {
  suffix: string;
  hf: string;
  dim: number;
  depth: number;
  heads: number;
}

const DINOV2_SIZES: VitSize[] = [
  { suffix: 's', hf: 'small', dim: 384, depth: 12, heads: 6 },
  { suffix: 'b', hf: 'base', dim: 768, depth: 12, heads: 12 },
  { suffix: 'l', hf: 'large', dim: 1024, depth: 24, heads: 16 },
  { suffix: 'g', hf: 'giant', dim: 1536, depth: 40, heads: 24 },
];

function dinov2Card(size: VitSize, registers: boolean): BackboneCard {
  return {
    name: `dinov2_vit${size.suffix}14${registers ? '_reg' : ''}`,
    family: 'vit',
    architecture: registers ? 'Dinov2WithRegistersModel' : 'Dinov2Model',
    embedDim: size.dim,
    patchSize: 14,
    depth: size.depth,
    heads: size.heads,
    registers: registers ? 4 : 0,
    // The position embeddings cover a 37×37 grid (518²); other multiples of 14 are interpolated.
    inputSize: [518, 518],
    ...IMAGENET,
    licence: 'Apache-2.0',
    source: `https://huggingface.co/facebook/dinov2-${registers ? 'with-registers-' : ''}${size.hf}`,
    weightFiles: [...DINOV2_WEIGHT_FILES],
  };
}

/** DINOv3 ViTs distilled from the 7B teacher on LVD-1689M (the "plus" sizes use a gated SiLU MLP). */
const DINOV3_SIZES: VitSize[] = [
  { suffix: 's16', hf: 'vits16', dim: 384, depth: 12, heads: 6 },
  { suffix: 's16plus', hf: 'vits16plus', dim: 384, depth: 12, heads: 6 },
  { suffix: 'b16', hf: 'vitb16', dim: 768, depth: 12, heads: 12 },
  { suffix: 'l16', hf: 'vitl16', dim: 1024, depth: 24, heads: 16 },
];

function dinov3Card(size: VitSize): BackboneCard {
  return {
    name: `dinov3_vit${size.suffix}`,
    family: 'vit',
    architecture: 'DINOv3ViTModel',
    embedDim: size.dim,
    patchSize: 16,
    depth: size.depth,
    heads: size.heads,
    registers: 4,
    // RoPE positions: any multiple of 16 runs as is; 224 is the processor's size.
    inputSize: [224, 224],
    ...IMAGENET,
    licence: 'DINOv3 License (custom, gated)',
    source: `https://huggingface.co/facebook/dinov3-${size.hf}-pretrain-lvd1689m`,
    weightFiles: [...DINOV3_WEIGHT_FILES],
  };
}

interface TowerEntry {
  name: string;
  architecture: 'CLIPVisionModel' | 'SiglipVisionModel' | 'OpenCLIPTimmViT';
  dim: number;
  depth: number;
  heads: number;
  patch: number;
  size: number;
  licence: string;
  source: string;
}

/** General (CLIP, SigLIP) and medical (MedSigLIP, BiomedCLIP) image towers of contrastive models. */
const TOWERS: TowerEntry[] = [
  {
    name: 'clip_vitb16',
    architecture: 'CLIPVisionModel',
    dim: 768,
    depth: 12,
    heads: 12,
    patch: 16,
    size: 224,
    licence: 'MIT',
    source: 'https://huggingface.co/openai/clip-vit-base-patch16',
  },
  {
    name: 'siglip_base_patch16_224',
    architecture: 'SiglipVisionModel',
    dim: 768,
    depth: 12,
    heads: 12,
    patch: 16,
    size: 224,
    licence: 'Apache-2.0',
    source: 'https://huggingface.co/google/siglip-base-patch16-224',
  },
  {
    name: 'siglip_so400m_patch14_384',
    architecture: 'SiglipVisionModel',
    dim: 1152,
    depth: 27,
    heads: 16,
    patch: 14,
    size: 384,
    licence: 'Apache-2.0',
    source: 'https://huggingface.co/google/siglip-so400m-patch14-384',
  },
  {
    // MedGemma's image encoder, released on its own (SigLIP so400m trained on medical images).
    name: 'medsiglip_448',
    architecture: 'SiglipVisionModel',
    dim: 1152,
    depth: 27,
    heads: 16,
    patch: 14,
    size: 448,
    licence: 'Health AI Developer Foundations Terms of Use (gated)',
    source: 'https://huggingface.co/google/medsiglip-448',
  },
  {
    // open_clip checkpoint with a timm ViT-B/16 image tower, published as a pickle: convert once.
    name: 'biomedclip_vitb16',
    architecture: 'OpenCLIPTimmViT',
    dim: 768,
    depth: 12,
    heads: 12,
    patch: 16,
    size: 224,
    licence: 'MIT',
    source: 'https://huggingface.co/microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224',
  },
];

function towerCard(t: TowerEntry): BackboneCard {
  const openClip = t.architecture === 'OpenCLIPTimmViT';
  return {
    name: t.name,
    family: 'vit',
    architecture: t.architecture,
    embedDim: t.dim,
    patchSize: t.patch,
    depth: t.depth,
    heads: t.heads,
    registers: 0,
    // Learned positions for this grid; other multiples of the patch size are interpolated.
    inputSize: [t.size, t.size],
    ...(t.architecture === 'SiglipVisionModel' ? SIGLIP_NORMALISATION : OPENAI_CLIP_NORMALISATION),
    licence: t.licence,
    source: t.source,
    weightFiles: [...(openClip ? OPEN_CLIP_WEIGHT_FILES : TOWER_WEIGHT_FILES)],
  };
}

export const BUILTIN_CARDS: BackboneCard[] = [
  ...DINOV2_SIZES.flatMap((s) => [dinov2Card(s, false), dinov2Card(s, true)]),
  ...DINOV3_SIZES.map(dinov3Card),
  {
    name: 'rad_dino',
    family: 'vit',
    architecture: 'Dinov2Model',
    embedDim: 768,
    patchSize: 14,
    depth: 12,
    heads: 12,
    registers: 0,
    inputSize: [518, 518],
    mean: [0.5307, 0.5307, 0.5307],
    std: [0.2583, 0.2583, 0.2583],
    licence: 'MSRLA (Microsoft Research License Agreement)',
    source: 'https://huggingface.co/microsoft/rad-dino',
    weightFiles: [...DINOV2_WEIGHT_FILES],
  },
  ...TOWERS.map(towerCard),
];

/** Names the project knows but whose family is not in this build, with the reason. */
export const NOT_IMPLEMENTED: Record<string, string> = {
  medimageinsight: 'the DaViT family (MedImageInsight) is not implemented',
  medgemma_siglip: "MedGemma's SigLIP image encoder is released on its own as MedSigLIP: use medsiglip_448",
};
