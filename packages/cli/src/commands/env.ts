import { cpus } from 'node:os';
import { ADAPTERS_VERSION } from '@anymc3d/adapters';
import { CORE_VERSION } from '@anymc3d/core';
import { transparentHugePages } from '@anymc3d/core/util';
import type { CommandModule } from 'yargs';
import { CLI_VERSION } from '../version.js';

interface EnvArgs {
  json: boolean;
}

export interface EnvironmentReport {
  anymc3d: string;
  core: string;
  adapters: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  /** GLIBC_TUNABLES as this process started with it (glibc.malloc.hugetlb=1 is recommended: README, "Memory pages"). */
  glibcTunables: string;
  /** The kernel's transparent huge page mode ('always', 'madvise', 'never'), or 'n/a' off Linux. */
  transparentHugePages: string;
  /** ANYMC3D_ORT_SPINNING as set: 1 lets ONNX Runtime's threads spin-wait between ops (README, threads). */
  ortSpinning: string;
}

export function environmentReport(): EnvironmentReport {
  const cpuList = cpus();
  return {
    anymc3d: CLI_VERSION,
    core: CORE_VERSION,
    adapters: ADAPTERS_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    glibcTunables: process.env.GLIBC_TUNABLES ?? '',
    transparentHugePages: transparentHugePages(),
    ortSpinning: process.env.ANYMC3D_ORT_SPINNING ?? '',
  };
}

export const envCommand: CommandModule<object, EnvArgs> = {
  command: 'env',
  describe: 'Print versions and the machine (for bug reports and provenance)',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }),
  handler: (args) => {
    const report = environmentReport();
    if (args.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const width = Math.max(...Object.keys(report).map((k) => k.length));
    for (const [key, value] of Object.entries(report))
      process.stdout.write(`${key.padEnd(width)}  ${value || '(unset)'}\n`);
  },
};
