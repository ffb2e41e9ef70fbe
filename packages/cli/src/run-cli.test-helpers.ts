import { vi } from 'vitest';
import { runCli } from './cli.js';

/** Runs the CLI in-process and returns its exit code and everything it printed. */
export async function runCliCaptured(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  // yargs prints help and usage errors through console.
  const log = vi.spyOn(console, 'log').mockImplementation((...s: unknown[]) => {
    out += `${s.join(' ')}\n`;
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...s: unknown[]) => {
    err += `${s.join(' ')}\n`;
  });
  try {
    return { code: await runCli(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    log.mockRestore();
    error.mockRestore();
    process.exitCode = undefined;
  }
}
