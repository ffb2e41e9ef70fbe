import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { appendResults, type Cell, markdownTable, measureLoad } from './harness.js';

/**
 * Load on loopback against a finished case of the heatmap server: 50 connections, 1000
 * requests each for a heatmap slice PNG and the heatmap .nii.gz, after a warm-up round of the
 * same size. Peer: bare node:http serving the same bytes from memory (the HTTP floor here).
 * Checks: 0 errors, p99 ≤ 2 s, server RSS flat between the warm-up and the measured round.
 * Run: node bench/dist/heatmap-server-load.js
 */
const CONNECTIONS = 50;
const AMOUNT = 1000;
const CHILD = fileURLToPath(new URL('./heatmap-server-child.js', import.meta.url));

interface Started {
  child: ChildProcess;
  info: Record<string, unknown>;
}

async function start(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { child, info: JSON.parse(line) as Record<string, unknown> };
}

async function serverRss(url: string, token: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${token}` } })).text();
  return Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

interface Round {
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  mbps: number;
  total: number;
}

async function round(url: string, headers: Record<string, string>): Promise<Round> {
  const r = await autocannon({ url, connections: CONNECTIONS, amount: AMOUNT, headers, timeout: 10 });
  return {
    errors: r.errors + r.timeouts + r.non2xx,
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    mbps: r.throughput.average / 2 ** 20,
    total: r['2xx'] + r.non2xx,
  };
}

async function main(): Promise<void> {
  const subject = await start(['subject']);
  const { url, token, png, nifti, sizes } = subject.info as {
    url: string;
    token: string;
    png: string;
    nifti: string;
    sizes: number[];
  };
  const peer = await start(['peer', JSON.stringify(subject.info)]);
  const peerUrl = peer.info.url as string;
  const auth = { Authorization: `Bearer ${token}` };
  const rows: Cell[][] = [];
  const ratios: string[] = [];
  const rss: { label: string; mb: number }[] = [
    { label: 'start (case finished)', mb: (await serverRss(url, token)) / 2 ** 20 },
  ];
  const failures: string[] = [];
  try {
    const { load } = await measureLoad(async () => {
      for (const [name, path, bytes] of [
        ['slice PNG', png, sizes[0]],
        ['heatmap .nii.gz', nifti, sizes[1]],
      ] as const) {
        await round(`${url}${path}`, auth); // warm-up: caches filled, JIT warm
        rss.push({ label: `after ${name} warm-up`, mb: (await serverRss(url, token)) / 2 ** 20 });
        const s = await round(`${url}${path}`, auth);
        rss.push({ label: `after ${name} measured round`, mb: (await serverRss(url, token)) / 2 ** 20 });
        await round(`${peerUrl}${path}`, {});
        const p = await round(`${peerUrl}${path}`, {});
        for (const [side, r] of [
          ['heatmap-server', s],
          ['node:http from memory (peer)', p],
        ] as const) {
          rows.push([
            name,
            `${((bytes ?? 0) / 1024).toFixed(0)} KiB`,
            side,
            r.total,
            r.errors,
            r.rps,
            r.p50,
            r.p99,
            r.max,
            r.mbps,
          ]);
        }
        ratios.push(
          `${name}: heatmap-server ÷ peer requests/s = ${(s.rps / p.rps).toFixed(2)}, p99 ratio ${(s.p99 / Math.max(1, p.p99)).toFixed(2)}`,
        );
        if (s.errors > 0) failures.push(`${name}: ${s.errors} errors`);
        if (s.p99 > 2000) failures.push(`${name}: p99 ${s.p99} ms > 2000 ms`);
      }
    });
    const warm = rss.filter((r) => r.label.includes('warm-up'));
    const measured = rss.filter((r) => r.label.includes('measured'));
    const growth = Math.max(...measured.map((m, i) => m.mb - (warm[i]?.mb ?? m.mb)));
    if (growth > 32) failures.push(`RSS grew ${growth.toFixed(1)} MiB across a measured round`);
    const table = markdownTable(
      ['file', 'size', 'server', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'MiB/s'],
      rows,
    );
    const section = await appendResults(
      {
        title: 'heatmap-server load on loopback (autocannon, 50 connections × 1000 requests)',
        command: 'npx turbo run build && node bench/dist/heatmap-server-load.js',
        table,
        ratios,
        notes: [
          `Server RSS (MiB): ${rss.map((r) => `${r.label} ${r.mb.toFixed(1)}`).join('; ')}; largest growth across a measured round ${growth.toFixed(1)} MiB.`,
          'Case: a 128×128×48 synthetic volume analysed by the synthetic test analyzer (serving is measured, not inference); the PNG is an axial slice with the heatmap overlay (rendered once, then from the PNG cache); the NIfTI is streamed from disk each time.',
          `Checks (0 errors, p99 ≤ 2000 ms, RSS flat within 32 MiB): ${failures.length === 0 ? 'all met' : failures.join('; ')}.`,
          'Load generator, subject and peer share the same 2 cores.',
        ],
      },
      load,
    );
    process.stdout.write(`${section}\n`);
  } finally {
    subject.child.kill('SIGTERM');
    peer.child.kill('SIGTERM');
  }
  if (failures.length > 0) process.exitCode = 1;
}

await main();
