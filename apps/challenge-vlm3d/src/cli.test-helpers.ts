import { expect, vi } from 'vitest';
import { runVlm3d } from './cli.js';

/** Runs `vlm3d ARGV`, capturing what it writes to stdout and stderr. */
export async function vlm3d(argv: string[]) {
  let out = '';
  let err = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    const code = await runVlm3d(argv, (t) => {
      out += t;
    });
    return { code, out, err };
  } finally {
    e.mockRestore();
  }
}

/** Every number of `expected` (nested objects, nulls kept) equals `actual`'s to 1e-9; the keys agree. */
export function expectSameNumbers(actual: unknown, expected: unknown, path = 'metrics') {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - expected), `${path}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9);
  } else if (expected === null || typeof expected !== 'object') {
    expect(actual, path).toEqual(expected);
  } else {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) {
      expectSameNumbers((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  }
}
