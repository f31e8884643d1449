import t from 'tap';
import { ownTimeMs, sampleGuest, startInterruptGrace, type GuestSample } from '../../../sandbox/process/interrupt-grace.js';

const at = (atMs: number, runnable: boolean, threads: Record<string, number>): GuestSample => ({ atMs, runnable, threadCpuMs: new Map(Object.entries(threads)) });

t.test('own time: waiting for a CPU spends none of the grace; spinning and sleeping do', async (t) => {
  t.equal(ownTimeMs(at(0, true, { 1: 100, 2: 50 }), at(5_000, true, { 1: 100, 2: 50 })), 0, 'runnable for 5 s without a CPU: starved, no own time');
  t.equal(ownTimeMs(at(0, true, { 1: 100 }), at(5_000, true, { 1: 400 })), 300, 'spinning: the CPU it used');
  t.equal(ownTimeMs(at(0, false, { 1: 100 }), at(5_000, false, { 1: 100 })), 5_000, 'blocked at both ends (a sleep that swallowed the interrupt): the whole interval');
  t.equal(ownTimeMs(at(0, true, { 1: 100 }), at(5_000, false, { 1: 110 })), 10, 'blocked at one end only: the CPU it used');
  t.equal(ownTimeMs(at(0, true, { 1: 100, 2: 0 }), at(1_000, true, { 1: 300, 2: 300, 3: 250 })), 750, 'the sum over its threads (spinning spread over many threads spends the grace as fast); a new thread counts from 0');
});

t.test('a sample of this process: its threads, one of them running', async (t) => {
  const sample = sampleGuest(process.pid);
  t.ok(sample !== undefined, 'this process is sampled');
  t.ok(sample!.threadCpuMs.has(String(process.pid)), 'with its main thread');
  t.equal(sample!.runnable, true, 'which is running while it reads');
  t.equal(sampleGuest(-1), undefined, 'no process, no sample');
});

t.test('the grace expires on own time, or at the ceiling for a guest that gets no CPU', async (t) => {
  const expiry = (sample: (pid: number, atMs: number) => GuestSample | undefined, graceMs: number, ceilingMs: number) =>
    new Promise<{ elapsedMs: number; ownMs: number }>((resolve) => startInterruptGrace({ pid: 0, graceMs, ceilingMs, sample, onExpired: resolve, signal: new AbortController().signal }));
  // A thread that uses a CPU the whole time: its own time is the wall time.
  const spinning = await expiry((_, atMs) => at(atMs, true, { 1: atMs }), 20, 60_000);
  t.ok(spinning.ownMs >= 20, `a spinning guest spends its grace (${spinning.ownMs} ms)`);
  // Runnable but never scheduled: the grace stands still and only the ceiling ends it.
  const starved = await expiry((_, atMs) => at(atMs, true, { 1: 0 }), 20, 100);
  t.equal(starved.ownMs, 0, 'a starved guest spends none of its grace');
  const blind = await expiry(() => undefined, 20, 60_000);
  t.ok(blind.ownMs >= 20, `a guest /proc does not show gets wall time (${blind.ownMs} ms)`);
});

t.test('the interrupt is sent again while the grace runs', async (t) => {
  let repeats = 0;
  const expired = await new Promise<{ elapsedMs: number; ownMs: number }>((resolve) =>
    startInterruptGrace({ pid: 0, graceMs: 50, repeatMs: 10, sample: (_, atMs) => at(atMs, true, { 1: atMs }), onRepeat: () => (repeats += 1), onExpired: resolve, signal: new AbortController().signal }),
  );
  t.ok(expired.ownMs >= 50, 'a spinning guest still spends its grace');
  t.ok(repeats >= 1, `the interrupt was sent again before the kill (${repeats} times)`);
});

t.test('an answer before the grace is spent ends it', async (t) => {
  const answered = new AbortController();
  let expired = false;
  startInterruptGrace({ pid: 0, graceMs: 1, sample: (_, atMs) => at(atMs, true, { 1: atMs }), onExpired: () => (expired = true), signal: answered.signal });
  answered.abort();
  // Not a wait for time: timers fire in the order they are due, and an expired grace kills from the
  // check phase that follows, so after a later timer and then an immediate it would have expired.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(expired, false);
});
