import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { DEFAULT_PYTHON_PATH, MIN_PYTHON_VERSION, probePython, RUNNER_PATH } from '../../../sandbox/index.js';

const run = promisify(execFile);

t.test('/usr/bin/python3 serves: its version, as the interpreter itself reports it', async (t) => {
  const { stdout } = await run(DEFAULT_PYTHON_PATH, ['--version']);
  t.same(await probePython(DEFAULT_PYTHON_PATH, RUNNER_PATH), { usable: true, version: stdout.trim().replace('Python ', '') });
  t.same(MIN_PYTHON_VERSION, [3, 8], 'the runner installs an audit hook (sys.addaudithook, 3.8)');
});

t.test('an interpreter that cannot serve is a reason, never a throw', async (t) => {
  const dir = t.testdir({ 'broken.py': 'def f(:\n', 'silent.sh': '#!/bin/sh\nexit 0\n', 'failing.sh': '#!/bin/sh\nexit 3\n', 'stuck.sh': '#!/bin/sh\nexec sleep 30\n' });
  for (const script of ['silent.sh', 'failing.sh', 'stuck.sh']) chmodSync(join(dir, script), 0o755);
  t.same(await probePython('/nonexistent/python3', RUNNER_PATH), { usable: false, reason: 'spawn /nonexistent/python3 ENOENT' });
  t.same(await probePython(join(dir, 'silent.sh'), RUNNER_PATH), { usable: false, reason: 'it printed "" where a Python 3 version was expected' });
  t.same(await probePython(join(dir, 'failing.sh'), RUNNER_PATH), { usable: false, reason: 'it exited with code 3 and said nothing' });
  t.same(await probePython(join(dir, 'stuck.sh'), RUNNER_PATH, { timeoutMs: 200 }), { usable: false, reason: 'it did not answer within 200 ms' });
  // A runner the interpreter cannot compile (as a runner using syntax newer than the host's python3 would be).
  t.same(await probePython(DEFAULT_PYTHON_PATH, join(dir, 'broken.py')), { usable: false, reason: 'SyntaxError: invalid syntax' });
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '');
  t.same(await probePython(plain, RUNNER_PATH), { usable: false, reason: `spawn ${plain} EACCES` });
});
