import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import { ROOT } from '../fixtures/cli-process.js';

const run = promisify(execFile);

// The harness must keep working; its numbers are reported, never asserted (speed belongs in bench/).
t.test('make bench --quick: the harness drives a real server over both transports and writes its results', async (t) => {
  const { stdout } = await run(process.execPath, [`${ROOT}dist/bench/run.js`, '--env', 'echo_env', '--quick'], { cwd: ROOT });
  for (const transport of ['http', 'ws']) {
    for (const metric of ['reset latency', 'step latency', 'throughput x1', 'throughput x4', 'throughput x16']) {
      t.match(stdout, new RegExp(`${transport}\\s+${metric}`), `${transport} ${metric} row`);
    }
  }
  const results = JSON.parse(readFileSync(`${ROOT}bench/results/echo_env.quick.json`, 'utf8')) as {
    env: string;
    transports: { transport: string; throughput: { sessions: number }[] }[];
  };
  t.equal(results.env, 'echo_env');
  t.same(
    results.transports.map((r) => [r.transport, r.throughput.map((x) => x.sessions)]),
    [
      ['http', [1, 4, 16]],
      ['ws', [1, 4, 16]],
    ],
  );
  t.notMatch(stdout, /\b[1-9]\d* errors\b/, 'no step failed');
});
