import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeRatiosPlot } from './results-plot.js';

/**
 * The benchmark convention: a benchmark measures its subject and its peer (PyTorch, nibabel …)
 * in the same run, prints a table, and appends it to bench/RESULTS.md with the date, the
 * machine, and how busy the machine was while it ran — a number measured under a co-tenant is
 * not a number to plan with (see shared/docs/DEPENDENCIES.md, "Co-tenant effect").
 */

export const RESULTS_HEADER =
  '# Benchmark results\n\nAppended by the scripts in bench/; newest last. The picture is redrawn from these rows after every run.\n\n![Headline ratios over time](ratios-over-time.png)\n\n';

export const RESULTS_PATH = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  cpuFlags: string[];
  memoryGiB: number;
  node: string;
}

const INTERESTING_FLAGS = ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'fma'];

export async function machineInfo(): Promise<MachineInfo> {
  let flags: string[] = [];
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((l) => l.startsWith('flags')) ?? '';
    const all = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    flags = INTERESTING_FLAGS.filter((f) => all.has(f));
  } catch {
    flags = [];
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpuFlags: flags,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

interface CpuSample {
  busy: number;
  total: number;
  own: number;
}

async function sampleCpu(): Promise<CpuSample | null> {
  try {
    const stat = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const v = stat.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    // Fields 14-17 of /proc/self/stat: utime, stime, cutime, cstime (this process and its
    // waited-for children, e.g. a Python peer run with execFile).
    const self = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]?.split(' ') ?? [];
    const own = [11, 12, 13, 14].reduce((a, i) => a + Number(self[i] ?? 0), 0);
    return { busy: total - idle, total, own };
  } catch {
    return null;
  }
}

export interface LoadReport {
  /** Share of all cores used by other processes during the run, 0–1 (null where /proc is absent). */
  otherProcesses: number | null;
  loadavgBefore: number;
  loadavgAfter: number;
}

/** Runs `fn` and reports how much of the machine other processes used meanwhile. */
export async function measureLoad<T>(fn: () => Promise<T>): Promise<{ result: T; load: LoadReport }> {
  const before = await sampleCpu();
  const loadavgBefore = loadavg()[0] ?? 0;
  const result = await fn();
  const after = await sampleCpu();
  let otherProcesses: number | null = null;
  if (before && after && after.total > before.total) {
    const other = after.busy - before.busy - (after.own - before.own);
    otherProcesses = Math.max(0, other) / (after.total - before.total);
  }
  return { result, load: { otherProcesses, loadavgBefore, loadavgAfter: loadavg()[0] ?? 0 } };
}

/** The middle value (the upper one of an even count): what every bench reports of repeated timings. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no values');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

export type Cell = string | number;

export function markdownTable(header: string[], rows: Cell[][]): string {
  const fmt = (c: Cell) => (typeof c === 'number' ? formatNumber(c) : c);
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.map(fmt).join(' | ')} |`);
  return lines.join('\n');
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const abs = Math.abs(x);
  return abs >= 100 ? x.toFixed(1) : abs >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

export interface BenchmarkReport {
  title: string;
  /** The command that reproduces the numbers. */
  command: string;
  table: string;
  /** Subject ÷ peer, measured in this run, with what it compares. */
  ratios: string[];
  notes?: string[];
}

/** The environment variables of this project that change how a run computes or schedules, as set. */
const RUN_SETTINGS = ['ANYMC3D_ORT_SPINNING'] as const;

function settingsFromEnvironment(): string[] {
  return RUN_SETTINGS.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`);
}

export async function appendResults(
  report: BenchmarkReport,
  load: LoadReport,
  path: string = RESULTS_PATH,
  now: Date = new Date(),
): Promise<string> {
  const m = await machineInfo();
  const other = load.otherProcesses === null ? 'unknown' : `${(load.otherProcesses * 100).toFixed(1)} % of all cores`;
  const section = [
    `## ${report.title} — ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.cores} cores, ${m.cpuModel} (${m.cpuFlags.join(', ') || 'no flags read'}), ${m.memoryGiB} GiB, Node ${m.node}.`,
    `Load during the run: other processes ${other}; load average ${load.loadavgBefore.toFixed(2)} before, ${load.loadavgAfter.toFixed(2)} after.`,
    `Command: \`${[...settingsFromEnvironment(), report.command].join(' ')}\``,
    '',
    report.table,
    '',
    ...report.ratios.map((r) => `- Ratio: ${r}`),
    ...(report.notes ?? []).map((n) => `- ${n}`),
    '',
  ].join('\n');
  let existing = '';
  try {
    existing = await readFile(path, 'utf8');
  } catch {
    await writeFile(path, RESULTS_HEADER);
  }
  if (existing && !existing.endsWith('\n')) await appendFile(path, '\n');
  await appendFile(path, `${section}\n`);
  // The picture of the ratios over time is redrawn from the file's own rows after every append.
  await writeRatiosPlot(path);
  return section;
}
