import { describe, expect, it } from 'vitest';
import { createProgress } from './progress.js';

function fakeStream(isTTY: boolean) {
  const lines: string[] = [];
  const stream = { isTTY, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

describe('progress', () => {
  it('prints plain lines off a TTY: the first, throttled middles, and the last', () => {
    const { stream, lines } = fakeStream(false);
    const p = createProgress({ enabled: true, quiet: false, stream, lineInterval: 3600 });
    for (let i = 0; i <= 10; i++) p.report({ stage: 'features', done: i, total: 10, detail: `case ${i}` });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^features: 0\/10/);
    expect(lines[1]).toMatch(/^features: 10\/10 .* case 10\n$/);
  });

  it('is silent with --no-progress and with -q', () => {
    for (const o of [
      { enabled: false, quiet: false },
      { enabled: true, quiet: true },
    ]) {
      const { stream, lines } = fakeStream(false);
      createProgress({ ...o, stream }).report({ stage: 's', done: 1, total: 1 });
      expect(lines).toEqual([]);
    }
  });
});
