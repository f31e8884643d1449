import t from 'tap';
import { SandboxUnavailableError } from '../../../protocol/index.js';
import { SANDBOX_UID_BASE, SANDBOX_UID_COUNT, UidPool } from '../../../sandbox/index.js';
import { ProcessSandbox } from '../../../sandbox/process/process-sandbox.js';

/** The error of a pool of `count` uids from `base`, all held. */
const exhausted = (base: number, count: number) => ({
  name: 'SandboxUnavailableError',
  code: 'SANDBOX_UNAVAILABLE',
  status: 503,
  message: `Cannot start a sandbox: all ${count} sandbox uids (${base} to ${base + count - 1}) are held by live sandboxes; close idle sessions or retry once some have ended.`,
});

t.test('a uid pool hands out distinct uids and, once all are held, refuses with SANDBOX_UNAVAILABLE (503)', async (t) => {
  const pool = new UidPool({ base: 70_000, count: 2 });
  const first = pool.acquire();
  const second = pool.acquire();
  t.same([first, second].sort(), [70_000, 70_001], 'each uid of the range, once');
  t.throws(() => pool.acquire(), exhausted(70_000, 2));
  t.throws(() => pool.acquire(), SandboxUnavailableError, 'an EnvboxError the server answers with 503, not a 500');
  pool.release(first);
  t.equal(pool.acquire(), first, 'a released uid can be had again');
});

t.test('the default pool is the 4096 uids from 61000', async (t) => {
  t.same([SANDBOX_UID_BASE, SANDBOX_UID_COUNT], [61_000, 4096]);
  t.equal(new UidPool().acquire(), SANDBOX_UID_BASE);
});

t.test('a sandbox start that finds its uid pool exhausted fails with that error, before starting anything', async (t) => {
  const uids = new UidPool({ base: 70_000, count: 1 });
  uids.acquire();
  const start = ProcessSandbox.start({
    guest: { argv: () => ['/nonexistent/guest'], readOnly: [] },
    isolation: 'process',
    procMount: false,
    tmpBytes: 1024 * 1024,
    maxOutputBytes: 1024,
    interruptGraceMs: 500,
    uids,
  });
  await t.rejects(start, exhausted(70_000, 1));
});
