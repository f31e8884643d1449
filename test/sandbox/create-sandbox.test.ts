import t from 'tap';
import { createSandbox, createSandboxBackend, EXIT_KILLED, EXIT_OK, WarmPool } from '../../index.js';

t.test('createSandbox: Python, with its limits, state kept between runs, closed with its backend', async (t) => {
  const sandbox = await createSandbox({ language: 'python', limits: { addressSpaceBytes: 256 * 1024 * 1024 }, timeoutMs: 10_000 });
  t.teardown(() => sandbox.close());
  t.match(sandbox.backend.health(), { python_backend: /^(process|pyodide)$/ });
  t.match(await sandbox.run('x = 6 * 7\nprint(x)'), { stdout: '42\n', exitCode: EXIT_OK });
  t.match(await sandbox.run('print(x + 1)'), { stdout: '43\n', exitCode: EXIT_OK }, 'state persists');
  if (sandbox.backend.health().python_backend === 'process') {
    const bomb = await sandbox.run("b = bytearray(512 * 1024 * 1024)");
    t.match(bomb.stderr, /MemoryError/, 'the 256 MiB limit holds');
    t.match(await sandbox.run('print(x)'), { stdout: '42\n' }, 'and the state survives it');
  }
  const loop = await sandbox.run('while True: pass', { timeoutMs: 300 });
  t.not(loop.exitCode, EXIT_OK, 'a deadline of its own interrupts a loop');
  await sandbox.close();
  t.equal(sandbox.alive, false);
  t.equal((await sandbox.run('print(1)')).exitCode, EXIT_KILLED, 'a closed sandbox answers 137');
  await t.rejects(sandbox.backend.create(), /closed|unavailable/i, 'its backend is closed with it');
});

t.test('createSandbox: JavaScript', async (t) => {
  await using sandbox = await createSandbox({ language: 'javascript' });
  t.match(await sandbox.run('var n = 20; console.log(n + 1)'), { stdout: '21\n', exitCode: EXIT_OK });
  t.match(await sandbox.run('console.log(n * 2)'), { stdout: '40\n' });
  t.match(await sandbox.run('require("fs")'), { exitCode: 1 }, 'no host modules');
});

t.test('createSandboxBackend with a WarmPool: sandboxes that do not share state', async (t) => {
  const backend = await createSandboxBackend({ language: 'javascript' });
  const pool = new WarmPool(backend, { size: 2 });
  t.teardown(async () => {
    await pool.close();
    await backend.close();
  });
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  await a!.run('globalThis.secret = 1', { timeoutMs: 5000 });
  t.match(await b!.run('console.log(typeof secret)', { timeoutMs: 5000 }), { stdout: 'undefined\n' });
  await Promise.all([a!.close(), b!.close()]);
});
