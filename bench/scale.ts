#!/usr/bin/env node
/**
 * `make bench-scale`: EnvPool batches across 1, 2 and 4 appliances on the swarm `make swarm-up`
 * built (DockerSwarmProvider): the time to start N appliances, and the steps/s of a 128-episode
 * Python batch and a 512-episode JavaScript batch (`print`/`console.log` steps). Prints a table and
 * writes `bench/results/scale.json`. On a 2-core machine the scaling ratio shows the overhead of
 * spreading, not a gain.
 *
 * Usage: `node dist/bench/scale.js [--appliances 1,2,4] [--image <ref>] [--batches 3]`; the image
 * defaults to the ID `make swarm-up` loaded on the workers (`/var/lib/envbox-swarm/image-id`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DockerSwarmProvider, EnvPool } from '../index.js';
import { CodingEnv } from '../envs/index.js';
import { findPackageRoot } from './package-root.js';

const IMAGE_ID_FILE = '/var/lib/envbox-swarm/image-id';
const BATCHES = [
  { language: 'python', episodes: 128, code: 'print(1)' },
  { language: 'javascript', episodes: 512, code: 'console.log(1)' },
] as const;

interface Row {
  appliances: number;
  startMs: number;
  nodes: string[];
  batches: Array<{ language: string; episodes: number; resetMs: number; stepsPerSecond: number; errors: number }>;
}

const { values } = parseArgs({ options: { appliances: { type: 'string', default: '1,2,4' }, image: { type: 'string' }, batches: { type: 'string', default: '3' } } });
const counts = values.appliances.split(',').map(Number);
const stepBatches = Number(values.batches);
if (counts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(stepBatches) || stepBatches < 1) {
  process.stderr.write(`bench-scale: --appliances wants positive integers (e.g. 1,2,4), --batches a positive integer; received ${values.appliances} and ${values.batches}\n`);
  process.exit(2);
}
const image = values.image ?? (existsSync(IMAGE_ID_FILE) ? readFileSync(IMAGE_ID_FILE, 'utf8').trim() : 'envbox/appliance:latest');

const rows: Row[] = [];
for (const appliances of counts) {
  const perAppliance = Math.ceil(Math.max(...BATCHES.map((b) => b.episodes)) / appliances);
  const provider = new DockerSwarmProvider({ image, labels: { 'envbox.bench': 'scale' }, constraints: ['node.role==worker'], memoryLimitBytes: 4 * 1024 ** 3, pidsLimit: 2048, cpus: 2 });
  const started = performance.now();
  const pool = await EnvPool.create(CodingEnv, {
    provider,
    spec: { command: ['--env', 'coding_env', '--max-sessions', String(perAppliance + 8)] },
    appliances,
    episodesPerAppliance: perAppliance,
    timeoutMs: 120_000,
  });
  try {
    const row: Row = { appliances, startMs: Math.round(performance.now() - started), nodes: provider.appliances.map((a) => a.node.name), batches: [] };
    for (const batch of BATCHES) {
      const resetStarted = performance.now();
      const reset = await pool.reset({ n: batch.episodes, options: { language: batch.language } });
      const resetMs = Math.round(performance.now() - resetStarted);
      let errors = reset.filter((r) => 'error' in r).length;
      const actions = Array.from({ length: batch.episodes }, () => ({ code: batch.code }));
      const stepStarted = performance.now();
      for (let i = 0; i < stepBatches; i += 1) errors += (await pool.step(actions)).filter((r) => 'error' in r || r.observation.stdout !== '1\n').length;
      const stepsPerSecond = Math.round((batch.episodes * stepBatches) / ((performance.now() - stepStarted) / 1000));
      row.batches.push({ language: batch.language, episodes: batch.episodes, resetMs, stepsPerSecond, errors });
    }
    rows.push(row);
    process.stdout.write(
      `${appliances} appliance(s) on ${row.nodes.join(',')}: started in ${row.startMs} ms; ` +
        row.batches.map((b) => `${b.language} ${b.episodes} episodes: reset ${b.resetMs} ms, ${b.stepsPerSecond} steps/s, ${b.errors} errors`).join('; ') +
        '\n',
    );
  } finally {
    await pool.close();
    await provider.close();
  }
}
const base = rows[0];
if (base !== undefined) {
  for (const row of rows) {
    const ratios = row.batches.map((b, i) => `${b.language} ×${(b.stepsPerSecond / base.batches[i]!.stepsPerSecond).toFixed(2)}`).join(', ');
    process.stdout.write(`scaling ${base.appliances} → ${row.appliances} appliances: ${ratios}\n`);
  }
}
const out = join(findPackageRoot(), 'bench', 'results', 'scale.json');
await mkdir(join(findPackageRoot(), 'bench', 'results'), { recursive: true });
await writeFile(out, `${JSON.stringify({ image, rows }, null, 2)}\n`);
process.stdout.write(`wrote ${out}\n`);
