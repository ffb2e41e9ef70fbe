export { maxRelativeError } from './compare.js';
export { randomDinov2Tensors, type TinyVitOptions, tinyDinov2Config, writeTinyDinov2 } from './tiny-vit.js';
