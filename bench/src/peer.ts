import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The environment a Python (PyTorch) peer runs in, at its best: this machine's OpenBLAS override
 * (OPENBLAS_CORETYPE=Haswell, which skips the AVX-512 kernels) and L2 hint removed, BLAS and
 * OpenMP threads pinned to `threads`, passive OpenMP waits, no mmap/trim churn of large tensors
 * (ORT-BACKWARD.md §7.6).
 */
export function peerEnv(threads: number): NodeJS.ProcessEnv {
  const { OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, ...rest } = process.env;
  void [OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE];
  const n = String(threads);
  return {
    ...rest,
    BENCH_THREADS: n,
    OPENBLAS_NUM_THREADS: n,
    OMP_NUM_THREADS: n,
    OMP_WAIT_POLICY: 'PASSIVE',
    MALLOC_MMAP_MAX_: '0',
    MALLOC_TRIM_THRESHOLD_: String(2 ** 40),
  };
}

/** What the peer actually runs, as threadpoolctl reports it from inside that environment. */
export async function peerKernel(threads: number): Promise<string> {
  const script =
    'import json, torch, threadpoolctl\n' +
    'info = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} ' +
    'for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]\n' +
    'print(json.dumps({"torch": torch.__version__, "blas": info}))';
  const { stdout } = await run('/usr/bin/python3', ['-c', script], { env: peerEnv(threads) });
  const r = JSON.parse(stdout) as {
    torch: string;
    blas: { internal_api: string; version: string; architecture: string; num_threads: number }[];
  };
  const blas = r.blas
    .map((b) => `${b.internal_api} ${b.version} (${b.architecture} kernels, ${b.num_threads} threads)`)
    .join(', ');
  // A bench run with GLIBC_TUNABLES (README, "Memory pages") hands it to the peer too.
  const tunables = process.env.GLIBC_TUNABLES ? `, GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES} on both sides` : '';
  return `PyTorch ${r.torch}, ${blas}${tunables}`;
}

/** Runs a Python peer script under Debian's interpreter in the peer environment; its stdout. */
export async function runPeer(
  script: string,
  args: readonly string[],
  threads: number,
  timeoutMs = 900_000,
): Promise<string> {
  const { stdout } = await run('/usr/bin/python3', [script, ...args], {
    env: peerEnv(threads),
    timeout: timeoutMs,
    maxBuffer: 256 * 2 ** 20,
  });
  return stdout;
}
