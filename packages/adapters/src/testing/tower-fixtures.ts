import { fileURLToPath } from 'node:url';

/**
 * The tiny image-tower folders fixtures/tower_reference.py writes (random weights in each
 * checkpoint's own layout, with PyTorch reference outputs beside them), for tests in any package.
 */
export const TOWER_FIXTURES = ['clip-tiny', 'siglip-tiny', 'open-clip-timm-tiny'] as const;

export function towerFixture(name: (typeof TOWER_FIXTURES)[number]): string {
  return fileURLToPath(new URL(`../../fixtures/towers/${name}`, import.meta.url));
}
