import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxRelativeError, towerFixture, writeTinyDinov2 } from '@anymc3d/adapters/testing';
import { readSafetensors, writeNpy } from '@anymc3d/core/io';
import { cosine, pythonReferenceAvailable, runPython } from '@anymc3d/core/testing';
import { Random } from '@anymc3d/core/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured as cli } from '../run-cli.test-helpers.js';

const REFERENCE = fileURLToPath(new URL('../../../adapters/fixtures/dinov2_reference.py', import.meta.url));

let dir: string;
let tiny: string;
let batch: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-backbones-'));
  tiny = join(dir, 'tiny_reg');
  await writeTinyDinov2(tiny, { name: 'tiny_reg', registers: 2, seed: 5 });
  const r = new Random(11);
  batch = join(dir, 'batch.npy');
  await writeFile(
    batch,
    writeNpy({
      dtype: 'float32',
      shape: [3, 3, 20, 12],
      data: Float32Array.from({ length: 3 * 3 * 20 * 12 }, () => r.normal()),
    }),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('anymc3d backbones', () => {
  it('list filters with wildcards and marks names whose family is missing', async () => {
    const { code, out } = await cli(['backbones', 'list', 'dinov2_vitb*']);
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['dinov2_vitb14', 'dinov2_vitb14_reg']);
    const all = await cli(['backbones', 'list']);
    expect(all.out).toMatch(/rad_dino .*MSRLA/);
    expect(all.out).toMatch(/dinov3_vits16plus .*DINOv3 License/);
    const json = JSON.parse((await cli(['backbones', 'list', '*_reg', '--json'])).out) as { registers: number }[];
    expect(json.every((c) => c.registers === 4)).toBe(true);
  });

  it('convert turns an open_clip pickle into safetensors once, loads it back, and lists the towers', async () => {
    const folder = join(dir, 'biomedclip');
    await mkdir(folder);
    await copyFile(
      join(towerFixture('open-clip-timm-tiny'), 'open_clip_config.json'),
      join(folder, 'open_clip_config.json'),
    );
    await copyFile(
      join(towerFixture('open-clip-timm-tiny'), '..', 'open_clip_pytorch_model.bin'),
      join(folder, 'open_clip_pytorch_model.bin'),
    );
    const before = await cli(['backbones', 'info', folder]);
    expect(before.code).toBe(1);
    expect(before.err).toMatch(/run `anymc3d backbones convert/);
    const r = await cli(['backbones', 'convert', folder]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/open_clip_pytorch_model.bin → .*open_clip_model.safetensors: 34 tensors/);
    expect(r.out).toMatch(/loads as OpenCLIPTimmViT d=32/);
    const again = await cli(['backbones', 'convert', folder]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists/);
    const towers = await cli(['backbones', 'list', '*clip*']);
    expect(towers.out).toMatch(/^biomedclip_vitb16 .*MIT$/m);
    expect(towers.out).toMatch(/^clip_vitb16 .*MIT$/m);
  });

  it('info prints a card, checks a folder, and names what is missing', async () => {
    const info = JSON.parse((await cli(['backbones', 'info', 'dinov2_vits14_reg', '--json'])).out) as Record<
      string,
      unknown
    >;
    expect(info).toMatchObject({ embedDim: 384, heads: 6, registers: 4, patchSize: 14 });
    const folder = JSON.parse((await cli(['backbones', 'info', tiny, '--json'])).out) as {
      name: string;
      weights: { hash: string };
    };
    expect(folder.name).toBe('tiny_reg');
    expect(folder.weights.hash).toMatch(/^[0-9a-f]{64}$/);
    const missing = await cli(['backbones', 'info', 'dinov2_vits14', '--weights-root', dir]);
    expect(missing.code).toBe(0);
    expect(missing.out).toMatch(/weights +not available: .*dinov2_vits14: folder is missing/);
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    const wrong = await cli(['backbones', 'info', empty]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toBe(
      `anymc3d: ${empty}: config.json is missing (a backbone folder holds config.json + model.safetensors, as downloaded from Hugging Face)\n`,
    );
    const v3 = JSON.parse((await cli(['backbones', 'info', 'dinov3_vitl16', '--json'])).out) as Record<string, unknown>;
    expect(v3).toMatchObject({ architecture: 'DINOv3ViTModel', embedDim: 1024, registers: 4, patchSize: 16 });
  });

  it('embed refuses bad input with one clear line', async () => {
    const out = join(dir, 'bad.safetensors');
    const notNpy = join(dir, 'x.npy');
    await writeFile(notNpy, 'hello');
    expect((await cli(['backbones', 'embed', '-b', tiny, '-i', notNpy, '-o', out])).err).toMatch(
      /x.npy: not a .npy file/,
    );
    const odd = join(dir, 'odd.npy');
    await writeFile(odd, writeNpy({ dtype: 'float32', shape: [1, 3, 10, 12], data: new Float32Array(360) }));
    const r = await cli(['backbones', 'embed', '-b', tiny, '-i', odd, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/odd.npy: H×W 10×12 is not a multiple of tiny_reg's patch size 4/);
    const cuda = await cli(['backbones', 'embed', '-b', tiny, '-i', batch, '-o', out, '-d', 'cuda']);
    expect(cuda.code).toBe(1);
    expect(cuda.err).toMatch(/--device cuda: not available/);
    // WebGPU is built into onnxruntime-node: without an adapter (this CPU machine) one clear line;
    // with one (a GPU machine), the embedding the CPU gives, to 1e-3.
    const gpuOut = join(dir, 'webgpu.safetensors');
    const webgpu = await cli(['backbones', 'embed', '-b', tiny, '-i', batch, '-o', gpuOut, '-d', 'webgpu']);
    if (webgpu.code !== 0) {
      expect(webgpu.code).toBe(1);
      expect(webgpu.err.trim()).toMatch(
        /^anymc3d: --device webgpu: device "webgpu": no WebGPU adapter on this machine/,
      );
    } else {
      const cpuOut = join(dir, 'cpu.safetensors');
      expect((await cli(['backbones', 'embed', '-b', tiny, '-i', batch, '-o', cpuOut])).code).toBe(0);
      const [g, c] = await Promise.all([readSafetensors(gpuOut), readSafetensors(cpuOut)]);
      for (const name of ['cls', 'patch_tokens'])
        expect(
          maxRelativeError(g.float32(name).data as Float32Array, c.float32(name).data as Float32Array),
          name,
        ).toBeLessThan(1e-3);
    }
  });

  it('embed writes cls, patch_tokens and attention matching the PyTorch reference', async () => {
    const out = join(dir, 'out.safetensors');
    const r = await cli([
      'backbones',
      'embed',
      '--backbone',
      tiny,
      '-i',
      batch,
      '-o',
      out,
      '--threads',
      '1',
      '--batch-size',
      '2',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/tiny_reg on cpu: 3 slices 20×12 \(grid 5×3\)/);
    const got = await readSafetensors(out);
    expect(got.metadata.device).toBe('cpu');
    expect(got.float32('cls').dims).toEqual([3, 32]);
    expect(got.float32('patch_tokens').dims).toEqual([3, 15, 32]);
    expect(got.float32('attention').dims).toEqual([3, 15]);
    if (!(await pythonReferenceAvailable(['torch', 'numpy']))) return;
    const refPath = join(dir, 'ref.safetensors');
    await runPython(REFERENCE, ['ref', tiny, batch, refPath]);
    const ref = await readSafetensors(refPath);
    for (const name of ['cls', 'patch_tokens', 'attention']) {
      const err = maxRelativeError(got.float32(name).data as Float32Array, ref.float32(name).data as Float32Array);
      expect(err, name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('embed --precision int8 quantises the weight MatMuls, says so in the metadata, and stays close to fp32', async () => {
    const fp32 = join(dir, 'fp32.safetensors');
    const int8 = join(dir, 'int8.safetensors');
    expect((await cli(['backbones', 'embed', '-b', tiny, '-i', batch, '-o', fp32, '--threads', '1'])).code).toBe(0);
    const r = await cli([
      'backbones',
      'embed',
      '-b',
      tiny,
      '-i',
      batch,
      '-o',
      int8,
      '--threads',
      '1',
      '--precision',
      'int8',
    ]);
    expect(r.code, r.err).toBe(0);
    const a = await readSafetensors(fp32);
    const b = await readSafetensors(int8);
    expect(a.metadata.precision).toBe('fp32');
    expect(b.metadata.precision).toBe('int8');
    expect(Number(b.metadata.quantized_matmuls)).toBeGreaterThan(0);
    expect(b.metadata.precision_method).toMatch(/^dynamic int8/);
    expect(a.metadata.precision_method).toBeUndefined();
    const x = a.float32('cls').data as Float32Array;
    const y = b.float32('cls').data as Float32Array;
    expect(cosine(x, y)).toBeGreaterThan(0.99);
    expect(maxRelativeError(y, x)).toBeGreaterThan(0);
  });

  it("embed --precision int8 on a TFLite MobileNet runs the file's integer arithmetic and says so", async () => {
    // One 224² image of uint8 codes (values on the card's normalisation), to keep the run short.
    const r = new Random(3);
    const input = join(dir, 'mobilenet.npy');
    const scale = 1 / 128;
    const data = Float32Array.from({ length: 3 * 224 * 224 }, () => scale * (Math.floor(r.next() * 256) - 128));
    await writeFile(input, writeNpy({ dtype: 'float32', shape: [1, 3, 224, 224], data }));
    const out = join(dir, 'mobilenet-int8.safetensors');
    const args = ['backbones', 'embed', '-b', 'mobilenet_v1_224', '-i', input, '-o', out, '--threads', '1'];
    const result = await cli([...args, '--precision', 'int8']);
    expect(result.code, result.err).toBe(0);
    const st = await readSafetensors(out);
    expect(st.metadata).toMatchObject({ precision: 'int8', quantized_matmuls: '0', grid: '7x7' });
    expect(st.metadata.precision_method).toMatch(/^tflite-uint8-qlinear/);
    expect(st.float32('cls').dims).toEqual([1, 1024]);
    expect(st.float32('patch_tokens').dims).toEqual([1, 49, 1024]);
  }, 60_000);
});
