import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic.js';
import { InputError } from './errors.js';

describe('writeFileAtomic', () => {
  it('writes the content and leaves no temporary file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-atomic-'));
    const target = join(dir, 'nested', 'out.json');
    await writeFileAtomic(target, '{"a":1}');
    expect(await readFile(target, 'utf8')).toBe('{"a":1}');
    expect(await readdir(join(dir, 'nested'))).toEqual(['out.json']);
  });

  it('leaves nothing when the write fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anymc3d-atomic-'));
    // A folder where the file should go makes the rename fail after the temp file was written.
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'out.bin', 'x'), { recursive: true });
    await expect(writeFileAtomic(join(dir, 'out.bin'), new Uint8Array([1, 2]))).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['out.bin']);
  });
});

describe('InputError', () => {
  it('names the source and the problem in its message', () => {
    const e = new InputError('/data/a.nii.gz', 'truncated gzip stream');
    expect(e.message).toBe('/data/a.nii.gz: truncated gzip stream');
    expect(e.source).toBe('/data/a.nii.gz');
  });
});
