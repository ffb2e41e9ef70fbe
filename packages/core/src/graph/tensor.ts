/** Element types the graph IR and its ONNX emission support (ONNX TensorProto.DataType names). */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** A dimension: a size, or a symbol (e.g. 'N' for a batch) that is fixed only at run time. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int8Array
  | Uint8Array;

/** A concrete tensor: row-major data with its dims. float16 is carried as raw 16-bit words. */
export interface Tensor {
  dtype: DType;
  dims: readonly number[];
  data: TypedArray;
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensor(dtype: DType, dims: readonly number[], data?: TypedArray | readonly number[]): Tensor {
  const n = numel(dims);
  let typed: TypedArray;
  if (data === undefined) typed = allocate(dtype, n);
  else if (Array.isArray(data)) typed = fromNumbers(dtype, data as readonly number[]);
  else typed = data as TypedArray;
  if (typed.length !== n) {
    throw new Error(`tensor: ${typed.length} values given for dims [${dims.join(',')}] (${n} expected)`);
  }
  return { dtype, dims: [...dims], data: typed };
}

export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
  }
}

function fromNumbers(dtype: DType, values: readonly number[]): TypedArray {
  if (dtype === 'int64') return BigInt64Array.from(values, (v) => BigInt(Math.trunc(v)));
  const out = allocate(dtype, values.length);
  (out as Float32Array).set(values);
  return out;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}
