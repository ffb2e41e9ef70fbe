import { describe, expect, it } from 'vitest';
import { configFromEnv } from './config.js';

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
