/**
 * Seeded nnU-Net-style 3D augmentation: `augment3d(image, mask, rng, NNUNET_AUGMENT)` applies one
 * spatial transform (flips, rotation, scaling) identically to image and mask, then noise, blur,
 * brightness, contrast, low-resolution simulation and gamma to the image. Grids never change.
 */
export { type AugmentApplied, type AugmentConfig, type Augmented, augment3d, NNUNET_AUGMENT } from './augment.js';
export { addGaussianNoise, applyGamma, gaussianBlur, multiplyBrightness, scaleContrast } from './intensity.js';
export { type SpatialParams, spatialIndexMap, warp } from './spatial.js';
