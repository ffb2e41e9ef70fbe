import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** A free loopback TCP port (the OS picks one; closed again before Redis binds it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real redis-server (Debian's, which `.ci/run` installs) on a loopback port, without persistence;
 * `stop()` ends it. Tests of the distributed commands run against it, never against a mock.
 */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start redis-server (${error.message}): apt-get install redis-server`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

let known: boolean | undefined;

/**
 * Whether the tests that need a real redis-server can run. Under CI (CI=true) a missing server is
 * an error, so they can never pass by being skipped where it matters; elsewhere they are skipped
 * with a message naming the Debian package.
 */
export function redisServerAvailable(): boolean {
  if (known === undefined) known = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (known) return true;
  const hint = 'redis-server is not installed: apt-get install redis-server (.ci/run does)';
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(hint);
  process.stderr.write(`skipping the scale-out tests that need a real Redis: ${hint}\n`);
  return false;
}
