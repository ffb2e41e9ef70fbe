import { existsSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// Docker cannot run on the build machines, so the image's essentials are checked from the files.
const APP = new URL('..', import.meta.url).pathname;
const REPO = new URL('../../..', import.meta.url).pathname;

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = pending + line;
    pending = '';
    const m = /^(\w+)\s+(.*)$/.exec(whole);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

const dockerfile = instructions(readFileSync(join(APP, 'Dockerfile'), 'utf8'));
const finalStage = dockerfile.slice(dockerfile.findLastIndex((i) => i.op === 'FROM'));

describe('Dockerfile', () => {
  it('runs as a non-root user in the final image', () => {
    const users = finalStage.filter((i) => i.op === 'USER').map((i) => i.args.split(':')[0]!.trim());
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users.at(-1));
  });

  it('copies no weights into the image', () => {
    for (const i of dockerfile.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
      expect(i.args, `${i.op} ${i.args}`).not.toMatch(/weights|\.safetensors|\.onnx|\.pt\b|\.pth\b|\.bin\b/i);
    }
  });

  it("the entry point's script is in the build output at the path the image copies it to", () => {
    const entry = finalStage.find((i) => i.op === 'ENTRYPOINT');
    expect(entry).toBeDefined();
    const argv = JSON.parse(entry!.args) as string[];
    expect(argv[0]).toBe('node');
    expect(argv.at(-1)).toBe('run');
    const script = argv.find((a) => a.endsWith('.js'))!;
    // COPY --from=build <build dir> <app dir>: the build stage's WORKDIR holds the repository.
    const copy = finalStage.find((i) => i.op === 'COPY' && i.args.includes('--from='))!;
    const [from, to] = copy.args
      .split(/\s+/)
      .filter((a) => !a.startsWith('--'))
      .slice(-2) as [string, string];
    const buildDir = dockerfile.find((i) => i.op === 'WORKDIR')!.args.trim();
    expect(from).toBe(buildDir);
    const inRepo = posix.relative(to, script);
    expect(inRepo.startsWith('..')).toBe(false);
    expect(inRepo).toBe(relative(REPO, join(APP, 'dist', 'bin.js')));
    expect(existsSync(join(REPO, inRepo)), `${inRepo} (run the build first)`).toBe(true);
  });

  it('fetches nothing outside npm by default, and a CUDA build hands its device to run', () => {
    const args = Object.fromEntries(
      dockerfile.filter((i) => i.op === 'ARG').map((i) => i.args.split('=').map((x) => x.trim()) as [string, string]),
    );
    expect(args.ORT_INSTALL).toBe('skip');
    expect(args.DEVICE).toBe('cpu');
    const env = finalStage
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('VLM3D_DEVICE=$' + '{DEVICE}');
  });

  it('.dockerignore keeps weights, node_modules and build output out of the context', () => {
    const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore).toContain('**/node_modules');
    expect(ignore).toContain('weights');
    expect(ignore).toContain('**/*.safetensors');
    expect(ignore).toContain('**/*.onnx');
  });
});
