import { describe, expect, it, vi } from 'vitest';
import { runCli } from './cli.js';

async function capture(argv: string[]): Promise<{ code: number; out: string; err: string }> {
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
  const log = vi.spyOn(console, 'log').mockImplementation((...s: unknown[]) => {
    out += `${s.join(' ')}\n`;
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...s: unknown[]) => {
    err += `${s.join(' ')}\n`;
  });
  try {
    const code = await runCli(argv);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    log.mockRestore();
    error.mockRestore();
    process.exitCode = undefined;
  }
}

describe('anymc3d CLI', () => {
  it('env --json prints one parseable object with the versions', async () => {
    const { code, out } = await capture(['env', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as Record<string, unknown>;
    expect(report.node).toBe(process.version);
    expect(typeof report.core).toBe('string');
  });

  it('an unknown command is a usage error with exit code 2', async () => {
    const { code, err } = await capture(['no-such-command']);
    expect(code).toBe(2);
    expect(err).toMatch(/Unknown argument|Unknown command/);
  });

  it('no command asks for one', async () => {
    const { code, err } = await capture([]);
    expect(code).toBe(2);
    expect(err).toContain('Name a command');
  });
});
