import { vi } from 'vitest';
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
