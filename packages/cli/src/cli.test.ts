import { describe, expect, it } from 'vitest';
import { runCliCaptured as capture } from './run-cli.test-helpers.js';

describe('anymc3d CLI', () => {
  it('env --json prints one parseable object with the versions', async () => {
    const { code, out } = await capture(['env', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as Record<string, unknown>;
    expect(report.node).toBe(process.version);
    expect(typeof report.core).toBe('string');
    expect(report.glibcTunables).toBe(process.env.GLIBC_TUNABLES ?? '');
    expect(['always', 'madvise', 'never', 'n/a']).toContain(report.transparentHugePages);
    expect(report.ortSpinning).toBe(process.env.ANYMC3D_ORT_SPINNING ?? '');
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
