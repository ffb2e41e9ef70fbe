import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFromArgs, configFromEnv } from './config.js';

describe('configFromEnv', () => {
  it('binds loopback and has no tokens by default', () => {
    const c = configFromEnv({}, '/tmp/data');
    expect(c.host).toBe('127.0.0.1');
    expect(c.tokens.size).toBe(0);
  });

  it('parses tokens with roles and refuses an unknown role', () => {
    const c = configFromEnv({ ANYMC3D_TOKENS: 'abc:admin,def' }, '/d');
    expect(c.tokens.get('abc')).toBe('admin');
    expect(c.tokens.get('def')).toBe('reviewer');
    expect(() => configFromEnv({ ANYMC3D_TOKENS: 'x:root' }, '/d')).toThrow(/role "root"/);
  });
});

describe('configFromArgs', () => {
  it('reads the command line over the environment', () => {
    const c = configFromArgs(
      ['--data', '/d', '--backbone', 'dinov2_vits14', '--plugin', '/p/a', '--plugin', '/p/b', '--port', '9000'],
      { ANYMC3D_TOKENS: 't:admin', ANYMC3D_PORT: '1' },
    );
    expect(c).toMatchObject({ dataDir: '/d', backbone: 'dinov2_vits14', plugins: ['/p/a', '/p/b'], port: 9000 });
    expect(c.host).toBe('127.0.0.1');
    expect(c.concurrency).toBe(1);
  });

  it('names what is missing or wrong', () => {
    expect(() => configFromArgs(['--backbone', 'x'], {})).toThrow(/--data DIR is required/);
    expect(() => configFromArgs(['--data', '/d'], {})).toThrow(/--backbone NAME is required/);
    expect(() => configFromArgs(['--data', '/d', '--backbone', 'x', '--bogus', '1'], {})).toThrow(/unknown flag/);
    expect(() => configFromArgs(['--data', '/d', '--backbone', 'x', '--port', 'http'], {})).toThrow(/not a port/);
    expect(() => configFromArgs(['--data'], {})).toThrow(/"--data" needs a value/);
  });
});

describe('anymc3d-server', () => {
  it('refuses to start, with one clear line, when the backbone has no weights here', () => {
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    const run = spawnSync(process.execPath, [bin, '--data', tmpdir(), '--backbone', 'dinov2_vits14'], {
      encoding: 'utf8',
      env: { ...process.env, ANYMC3D_TOKENS: '', ANYMC3D_WEIGHTS: '' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toMatch(/^anymc3d-server: dinov2_vits14: no weights folder/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
