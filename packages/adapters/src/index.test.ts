import { CORE_VERSION } from '@anymc3d/core';
import { describe, expect, it } from 'vitest';
import { ADAPTERS_VERSION } from './index.js';

describe('package wiring', () => {
  it('adapters resolves core through its package exports', () => {
    expect(ADAPTERS_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(CORE_VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
