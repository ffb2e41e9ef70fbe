import { existsSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackboneEmbedder } from '@anymc3d/core/backbone';
import { readNpy, readSafetensors } from '@anymc3d/core/io';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBackbone } from '../registry/index.js';
import { maxRelativeError, towerFixture } from '../testing/index.js';
import { convertPickledCheckpoint } from './convert.js';
import { readTorchCheckpoint } from './torch-checkpoint.js';

const TOWERS = fileURLToPath(new URL('../../fixtures/towers/', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('pickled PyTorch checkpoints → safetensors (fixtures/tower_reference.py writes them with torch.save)', () => {
  it('an open_clip folder shipped as a pickle converts once and then loads with the reference outputs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convert-'));
    dirs.push(dir);
    const source = towerFixture('open-clip-timm-tiny');
    await copyFile(join(source, 'open_clip_config.json'), join(dir, 'open_clip_config.json'));
    await copyFile(join(TOWERS, 'open_clip_pytorch_model.bin'), join(dir, 'open_clip_pytorch_model.bin'));
    await expect(resolveBackbone(dir)).rejects.toThrow(/anymc3d backbones convert/);

    const done = await convertPickledCheckpoint(dir);
    expect(done.to).toBe(join(dir, 'open_clip_model.safetensors'));
    const converted = await readSafetensors(done.to);
    const original = await readSafetensors(join(source, 'open_clip_model.safetensors'));
    // Every tensor exactly, including one saved as a transposed view of its storage.
    for (const name of original.entries.keys()) {
      expect([...converted.float32(name).data], name).toEqual([...original.float32(name).data]);
    }
    expect([...converted.float32('extra.half').data]).toEqual([0.5, -1.25, 3]);
    expect(converted.entries.get('extra.position_ids')).toMatchObject({ dtype: 'I64', shape: [1, 6] });

    const backbone = await resolveBackbone(dir);
    const embedder = new BackboneEmbedder(backbone, { threads: 1 });
    try {
      const x = readNpy(new Uint8Array(await readFile(join(source, 'input_16x16.npy'))));
      const out = await embedder.embed({ dtype: 'float32', dims: x.shape, data: x.data as Float32Array });
      const ref = await readSafetensors(join(source, 'reference_16x16.safetensors'));
      expect(maxRelativeError(out.cls.data as Float32Array, ref.float32('cls').data as Float32Array)).toBeLessThan(
        1e-4,
      );
    } finally {
      await embedder.release();
    }
    await expect(convertPickledCheckpoint(dir)).rejects.toThrow(/already exists/);
  });

  it('refuses a pickle that calls anything but the tensor rebuilders, naming the call, and runs none of it', async () => {
    const path = join(TOWERS, 'malicious.bin');
    const bytes = new Uint8Array(await readFile(path));
    expect(() => readTorchCheckpoint(bytes, path)).toThrow(
      /malicious.bin: the checkpoint calls posix.system, which a weights file has no reason to; refusing to run it/,
    );
  });

  it('names the file when it is not a checkpoint, truncated, or the folder has none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convert-bad-'));
    dirs.push(dir);
    const bytes = new Uint8Array(await readFile(join(TOWERS, 'open_clip_pytorch_model.bin')));
    expect(() => readTorchCheckpoint(bytes.subarray(0, 5000), 'cut.bin')).toThrow(
      /^cut.bin: not a PyTorch zip checkpoint/,
    );
    expect(() => readTorchCheckpoint(new TextEncoder().encode('hello'), 'text.bin')).toThrow(/text.bin: not a PyTorch/);
    await expect(convertPickledCheckpoint(dir)).rejects.toThrow(/no pickled checkpoint to convert/);
    await cp(join(TOWERS, 'malicious.bin'), join(dir, 'pytorch_model.bin'));
    await expect(convertPickledCheckpoint(dir)).rejects.toThrow(/posix.system/);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
  });
});
