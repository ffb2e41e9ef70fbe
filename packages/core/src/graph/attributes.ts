import type { Tensor } from './tensor.js';

/**
 * ONNX tells int from float attributes; JavaScript numbers do not. Attributes are therefore
 * tagged where it matters: `f(0.5)` is a float, a plain integer number is an int. A plain
 * non-integer number is taken as a float too, so only integral floats (alpha = 1.0) need `f`.
 */
export type AttrValue =
  | number
  | readonly number[]
  | string
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'tensor'; value: Tensor };

export type Attributes = Record<string, AttrValue>;

export const f = (value: number): AttrValue => ({ kind: 'float', value });
export const fs = (value: readonly number[]): AttrValue => ({ kind: 'floats', value });
export const t = (value: Tensor): AttrValue => ({ kind: 'tensor', value });

/** Attribute names that are floats in every ONNX op that has them. */
const FLOAT_ATTRIBUTES = new Set(['alpha', 'beta', 'epsilon', 'gamma', 'lambd', 'bias', 'value_float', 'ratio']);

export type ResolvedAttr =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor };

export function resolveAttr(name: string, v: AttrValue): ResolvedAttr {
  if (typeof v === 'number') {
    return FLOAT_ATTRIBUTES.has(name) || !Number.isInteger(v) ? { type: 'float', value: v } : { type: 'int', value: v };
  }
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) {
    const list = v as readonly number[];
    return list.every(Number.isInteger) ? { type: 'ints', value: list } : { type: 'floats', value: list };
  }
  const tagged = v as Exclude<AttrValue, number | string | readonly number[]>;
  if (tagged.kind === 'float') return { type: 'float', value: tagged.value };
  if (tagged.kind === 'floats') return { type: 'floats', value: tagged.value };
  return { type: 'tensor', value: tagged.value };
}

export function intAttr(attrs: Attributes, name: string, fallback: number): number {
  const v = attrs[name];
  return typeof v === 'number' ? v : fallback;
}

export function intsAttr(attrs: Attributes, name: string): readonly number[] | undefined {
  const v = attrs[name];
  return Array.isArray(v) ? (v as readonly number[]) : undefined;
}
