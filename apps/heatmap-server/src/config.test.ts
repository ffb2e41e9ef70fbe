import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configFromArgs, configFromEnv } from './config.js';

describe('configFromEnv', () => {
  it('binds loopback and has no tokens by default', () => {
    const c = configFromEnv({}, '/tmp/data');
    expect(c.host).toBe('127.0.0.1');
    expect(c.tokens.size).toBe(0);
  });

  it('parses tokens with roles and names, and refuses an unknown role or a short token', () => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(40);
    const c = configFromEnv({ ANYMC3D_TOKENS: `${a}:admin:Ada Admin,${b}` }, '/d');
    expect(c.tokens.get(a)).toEqual({ role: 'admin', name: 'Ada Admin' });
    expect(c.tokens.get(b)).toEqual({ role: 'reviewer', name: 'reviewer-2' });
    expect(() => configFromEnv({ ANYMC3D_TOKENS: `${a}:root` }, '/d')).toThrow(/role "root"/);
    expect(() => configFromEnv({ ANYMC3D_TOKENS: 'abc:admin' }, '/d')).toThrow(/token 1 has 3 characters; at least 32/);
  });

  it('resolves a relative data folder once, and refuses half a TLS pair', () => {
    expect(configFromEnv({}, 'data').dataDir).toBe(join(process.cwd(), 'data'));
    expect(() => configFromEnv({ ANYMC3D_TLS_CERT: '/c.pem' }, '/d')).toThrow(/give both or neither/);
  });
});

describe('configFromArgs', () => {
  it('reads the command line over the environment', () => {
    const c = configFromArgs(
      ['--data', '/d', '--backbone', 'dinov2_vits14', '--plugin', '/p/a', '--plugin', '/p/b', '--port', '9000'],
      { ANYMC3D_TOKENS: `${'t'.repeat(32)}:admin`, ANYMC3D_PORT: '1' },
    );
    expect(c).toMatchObject({ dataDir: '/d', backbone: 'dinov2_vits14', plugins: ['/p/a', '/p/b'], port: 9000 });
    expect(c.host).toBe('127.0.0.1');
    expect(c.concurrency).toBe(1);
    expect(c.redis).toBeUndefined();
    const viaRedis = configFromArgs(['--data', '/d', '--backbone', 'x', '--redis', 'redis://queue:6379'], {});
    expect(viaRedis.redis).toBe('redis://queue:6379');
    expect(configFromArgs(['--data', '/d', '--backbone', 'x'], { ANYMC3D_REDIS_URL: 'redis://q:1' }).redis).toBe(
      'redis://q:1',
    );
  });

  it('names what is missing or wrong', () => {
    expect(() => configFromArgs(['--backbone', 'x'], {})).toThrow(/--data DIR is required/);
    expect(() => configFromArgs(['--data', '/d'], {})).toThrow(/--backbone NAME is required/);
    expect(() => configFromArgs(['--data', '/d', '--backbone', 'x', '--bogus', '1'], {})).toThrow(
      /Unknown argument: bogus/,
    );
    expect(() => configFromArgs(['--data', '/d', '--backbone', 'x', '--port', 'http'], {})).toThrow(/not a port/);
    expect(() => configFromArgs(['--data'], {})).toThrow(/--data DIR is required/);
    // Plain HTTP on an address other machines reach is refused unless asked for.
    expect(() => configFromArgs(['--data', '/d', '--backbone', 'x', '--host', '0.0.0.0'], {})).toThrow(
      /over plain HTTP would send tokens and patient data in the clear/,
    );
    const behindProxy = configFromArgs(['--data', '/d', '--backbone', 'x', '--host', '0.0.0.0', '--insecure-http'], {});
    expect(behindProxy.insecureHttp).toBe(true);
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
