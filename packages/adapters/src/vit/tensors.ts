import { InputError } from '@anymc3d/core';
import type { Tensor } from '@anymc3d/core/graph';
import type { SafetensorsFile } from '@anymc3d/core/io';

/** Small host-side tensor helpers the ViT weight loaders share. */

/** [rows, cols] row-major → its transpose. */
export function transpose2d(t: Tensor): Tensor {
  const [rows, cols] = t.dims as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return { dtype: 'float32', dims: [cols, rows], data: out };
}

/** Concatenation along the first axis. */
export function concat0(parts: Tensor[]): Tensor {
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const out = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, at);
    at += p.data.length;
  }
  const rest = parts[0]!.dims.slice(1);
  return { dtype: 'float32', dims: [parts.reduce((n, p) => n + p.dims[0]!, 0), ...rest], data: out };
}

/** Rows [from, to) of the first axis. */
export function rows(t: Tensor, from: number, to: number): Tensor {
  const width = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return {
    dtype: 'float32',
    dims: [to - from, ...t.dims.slice(1)],
    data: (t.data as Float32Array).slice(from * width, to * width),
  };
}

/**
 * A reader of `prefix + key` as float32 that refuses a missing tensor or one whose shape is not
 * the one config.json implies, naming the tensor and both shapes.
 */
/**
 * The key prefix a Hugging Face ViT checkpoint uses: bare model keys, or nested under one of
 * `prefixes` as task checkpoints store them; found by the CLS token every such model has.
 */
export function checkpointPrefix(file: SafetensorsFile, prefixes: readonly string[], model: string): string {
  for (const prefix of ['', ...prefixes]) if (file.has(`${prefix}embeddings.cls_token`)) return prefix;
  throw new InputError(
    file.source,
    `tensor "embeddings.cls_token" is missing (expected shape [1, 1, d]): not a Hugging Face ${model} checkpoint`,
  );
}

export function shapeCheckedReader(file: SafetensorsFile, prefix: string): (key: string, shape: number[]) => Tensor {
  return (key, shape) => {
    const full = prefix + key;
    const entry = file.entries.get(full);
    if (!entry) throw new InputError(file.source, `tensor "${full}" is missing (expected shape [${shape.join(', ')}])`);
    if (entry.shape.length !== shape.length || entry.shape.some((s, i) => s !== shape[i])) {
      throw new InputError(
        file.source,
        `tensor "${full}" has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] (from config.json)`,
      );
    }
    return file.float32(full);
  };
}
