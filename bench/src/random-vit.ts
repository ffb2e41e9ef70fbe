import { writeTinyDinov2 } from '@anymc3d/adapters/testing';

/**
 * A DINOv2 ViT-S/14 or ViT-B/14 folder (native input `imageSize`, 224² by default) with random weights (HF layout): real sizes for
 * timing where no pretrained weights may be downloaded. One writer for every benchmark that needs one.
 */
export async function writeRandomVit(dir: string, size: 'S' | 'B' = 'S', imageSize = 224): Promise<void> {
  await writeTinyDinov2(dir, {
    name: size === 'S' ? 'vit_s14_random' : 'vit_b14_random',
    hiddenSize: size === 'S' ? 384 : 768,
    layers: 12,
    heads: size === 'S' ? 6 : 12,
    patchSize: 14,
    imageSize,
  });
}
