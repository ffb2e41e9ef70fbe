// Kept for this package's public testing API; the helper lives in core/testing.
export { maxRelativeError } from '@anymc3d/core/testing';
export { mergeLora } from './merge-lora.js';
export { compareWithReference, type ReferenceComparison } from './reference-parity.js';
export { randomDinov3Tensors, type TinyDinov3Options, tinyDinov3Config, writeTinyDinov3 } from './tiny-dinov3.js';
export { randomDinov2Tensors, type TinyVitOptions, tinyDinov2Config, writeTinyDinov2 } from './tiny-vit.js';
export { TOWER_FIXTURES, towerFixture } from './tower-fixtures.js';
