import { type Tensor, tensor } from '../graph/tensor.js';
import { Random } from '../util/random.js';

/** A float32 tensor of normal values × `std`, the same for the same seed: test inputs and LoRA weights. */
export function randomNormal(dims: readonly number[], seed: number, std = 1): Tensor {
  const r = new Random(seed);
  return tensor(
    'float32',
    [...dims],
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => std * r.normal()),
  );
}
