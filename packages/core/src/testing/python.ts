import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Debian's python3-torch/-nibabel/-pydicom/-sklearn import only under the system interpreter,
 * not the python3 first on PATH (a pyenv build here), so references always run this one.
 */
export const SYSTEM_PYTHON = '/usr/bin/python3';

const cache = new Map<string, boolean>();

/** True when the system Python can import every module named. */
export async function pythonHas(modules: readonly string[]): Promise<boolean> {
  const key = modules.join(',');
  const known = cache.get(key);
  if (known !== undefined) return known;
  let ok = false;
  if (existsSync(SYSTEM_PYTHON)) {
    try {
      await run(SYSTEM_PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { timeout: 60_000 });
      ok = true;
    } catch {
      ok = false;
    }
  }
  cache.set(key, ok);
  return ok;
}

/**
 * Whether a test that needs live Python references should run. Under CI (CI=true) a missing
 * reference is an error, so such a test can never pass by being skipped where it matters;
 * elsewhere the test is skipped with a message naming the apt packages to install.
 */
export async function pythonReferenceAvailable(modules: readonly string[]): Promise<boolean> {
  if (await pythonHas(modules)) return true;
  const hint = `system Python lacks ${modules.join(', ')}: apt-get install ${modules.map(aptName).join(' ')}`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(hint);
  process.stderr.write(`skipping Python reference check: ${hint}\n`);
  return false;
}

function aptName(module: string): string {
  return module === 'sklearn' ? 'python3-sklearn' : `python3-${module}`;
}

/** Runs a Python script file with the system interpreter and returns its stdout. */
export async function runPython(script: string, args: readonly string[] = [], timeoutMs = 300_000): Promise<string> {
  const { stdout } = await run(SYSTEM_PYTHON, [script, ...args], { timeout: timeoutMs, maxBuffer: 256 * 2 ** 20 });
  return stdout;
}
