import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../scripts/train-child.mjs', import.meta.url));
const STEPS = 300;

/** Runs the child to the end, or SIGKILLs it once it reports `killAt`; returns the last step seen. */
function run(outDir: string, killAt?: number): Promise<{ lastStep: number; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CHILD, outDir, String(STEPS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lastStep = 0;
    let finished = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'done') finished = true;
      const m = /^step (\d+)$/.exec(line);
      if (m) lastStep = Number(m[1]);
      if (killAt !== undefined && lastStep >= killAt) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', () => resolve({ lastStep, finished }));
  });
}

describe('training survives a kill (a real SIGKILL of the training process)', () => {
  it('resumes from the last checkpoint and ends with the same weights as an uninterrupted run', async () => {
    const root = await mkdtemp(join(tmpdir(), 'kill-resume-'));
    const straight = await run(join(root, 'straight'));
    expect(straight.finished).toBe(true);

    const killed = await run(join(root, 'killed'), 40);
    expect(killed.finished).toBe(false);
    expect(killed.lastStep).toBeGreaterThanOrEqual(40);
    expect(killed.lastStep).toBeLessThan(STEPS);
    const resumed = await run(join(root, 'killed'));
    expect(resumed.finished).toBe(true);

    const a = await readFile(join(root, 'straight', 'plugin.safetensors'));
    const b = await readFile(join(root, 'killed', 'plugin.safetensors'));
    expect(b.equals(a)).toBe(true);
    const card = JSON.parse(await readFile(join(root, 'killed', 'plugin.json'), 'utf8')) as {
      training: { steps: number };
    };
    expect(card.training.steps).toBe(STEPS);
  });
});
