import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import type { SoakReport } from '../../bench/soak-report.js';
import { JAVASCRIPT_HOSTILE_KINDS, PYTHON_HOSTILE_KINDS } from '../../bench/soak-workload.js';
import { ROOT } from '../fixtures/cli-process.js';

const run = promisify(execFile);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// A few seconds of the real soak (a server in a child process, real loopback sockets), written to a
// temporary directory so the committed bench/results/ are never overwritten. Its structure and
// correctness are asserted; its numbers never are (the machine is shared). How many hostile steps fit
// in 6 s depends on the machine's speed (a loaded one fitted one or two per JavaScript session and
// never came to the stall): the soak itself sends every kind that has not run once the 6 s are over
// (SOAK_HOSTILE_COVER_ATTEMPTS), so every kind is checked whatever the speed.
t.test('make soak, briefly: every step checked, every hostile kind got its outcome, everything released', async (t) => {
  const outputDir = mkdtempSync(join(tmpdir(), 'envbox-soak-'));
  t.teardown(() => rmSync(outputDir, { recursive: true, force: true }));
  const { stdout } = await run(process.execPath, [`${ROOT}dist/bench/soak.js`], {
    cwd: ROOT,
    env: {
      ...process.env,
      SOAK_DURATION_S: '6',
      SOAK_SESSIONS: '4',
      SOAK_SAMPLE_INTERVAL_S: '1',
      // Often, so that most kinds come up during the traffic; the rest come after it.
      SOAK_HOSTILE_INTERVAL_S: '0.3',
      SOAK_HOSTILE_COVER_ATTEMPTS: '3',
      SOAK_OUTPUT_DIR: outputDir,
    },
  });
  t.match(stdout, /\| steps\/s \| [\d.]+ \|/, 'the summary table is printed');

  const report = JSON.parse(readFileSync(join(outputDir, 'soak.json'), 'utf8')) as SoakReport;
  t.equal(report.kind, 'soak');
  t.equal(report.settings.sessions, 4);
  t.equal(report.settings.hostileCoverAttempts, 3);
  t.ok(report.summary.steps > 0, `steps were answered (${report.summary.steps})`);
  t.same(report.summary.errors, {}, 'no error of any code, no wrong output');
  t.same(report.problems, []);
  const kinds = [...PYTHON_HOSTILE_KINDS.map((kind) => `python.${kind}`), ...JAVASCRIPT_HOSTILE_KINDS.map((kind) => `javascript.${kind}`)];
  for (const kind of kinds) {
    const tally = report.summary.hostile[kind];
    t.ok(tally !== undefined && tally.attempts > 0, `${kind} ran`);
    t.equal(tally?.wrong, 0, `${kind} always got its expected outcome`);
  }
  // The memory crowd: sessions of both languages filling memory at once (JavaScript to its cap,
  // Python holding 300 MB), each holding it until all have, then releasing it.
  const crowds = report.summary.memoryCrowds;
  t.ok(crowds.length >= 1, `memory crowds gathered: ${crowds.map((crowd) => `${crowd.python} + ${crowd.javascript}`).join(', ')}`);
  for (const crowd of crowds) t.ok(crowd.python + crowd.javascript >= 1 && crowd.python <= 2 && crowd.javascript <= 2, 'each counts its members once: at most the 2 sessions of each language');
  t.equal(
    crowds.reduce((sum, crowd) => sum + crowd.python, 0),
    report.summary.hostile['python.memory_crowd']?.attempts,
    'every Python member of a crowd got its observation, checked',
  );
  const refusals = report.summary.budgetRefusals;
  t.ok(refusals.server >= refusals.resets, `the server counted every budget refusal the sessions saw (${refusals.resets} resets refused; ${refusals.server} server-counted)`);
  t.same(report.summary.hostileMissing, [], 'no hostile kind was left out');
  t.same(report.summary.hostileWrong, [], 'no hostile kind got another outcome');
  t.equal(report.summary.hostileAllExpected, true);
  t.ok(report.summary.overtimeS >= 0 && report.summary.overtimeS <= report.summary.durationS, `overtime ${report.summary.overtimeS} s is part of the duration`);
  t.ok(report.samples.length > 0, 'samples were taken');
  for (const sample of report.samples) {
    t.ok(sample.process.processes > 0 && sample.process.serverFds > 0 && sample.process.treePssBytes > 0, `sample at ${sample.tS} s measured the server`);
    t.type(sample.server.metrics.envbox_steps_total, 'number', `sample at ${sample.tS} s read /metrics`);
  }
  t.equal(report.end.server.activeSessions, 0, '/health: no session left');
  t.equal(report.end.server.metrics.envbox_sessions, 0, '/metrics: no session left');
  t.equal(report.summary.sessionsReleased, true);
  t.equal(report.summary.sandboxesReleased, true, 'the process tree is back to its size before the traffic');
  t.equal(report.summary.serverAlive, true);

  t.match(readFileSync(join(outputDir, 'soak.md'), 'utf8'), /\| processes start → end \| \d+ → \d+/);
  const png = readFileSync(join(outputDir, 'soak.png'));
  t.same(png.subarray(0, PNG_SIGNATURE.length), PNG_SIGNATURE, 'soak.png is a PNG');
});
