import t from 'tap';
import { createQuickJsBackend } from '../../sandbox/index.js';

// 10,000 JavaScript episodes through one backend: every QuickJS handle, context, runtime and wasm
// instance is freed at close (a leak of even 100 KB per episode would show as ~1 GB here). Its
// own file, with a hang guard of 30 min: it runs ~40-90 s on 2 busy cores, and took over the 600 s
// of .taprc in a CI run on a machine running three times as much work as it has cores.
t.setTimeout(1_800_000);

/** Episodes in flight at once: enough to keep both default workers busy. */
const IN_FLIGHT = 8;

t.test('10,000 episodes: every handle is disposed and memory stays flat', async (t) => {
  const backend = await createQuickJsBackend();
  t.teardown(() => backend.close());
  let next = 0;
  const episode = async (i: number): Promise<void> => {
    const sandbox = await backend.create();
    try {
      const result = await sandbox.run(`let v${i % 7} = { i: ${i}, s: 'x'.repeat(100) }; console.log(v${i % 7}.i); v${i % 7}.s.length`, { timeoutMs: 10_000 });
      if (result.result !== '100' || result.stdout !== `${i}\n`) throw new Error(`episode ${i} failed: ${JSON.stringify(result)}`);
    } finally {
      await sandbox.close();
    }
  };
  const rssAfter = async (episodes: number): Promise<number> => {
    const end = next + episodes;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < end) await episode(next++);
      }),
    );
    // Let the workers process the close messages before measuring.
    const probe = await backend.create();
    await probe.run('0', { timeoutMs: 10_000 });
    await probe.close();
    return process.memoryUsage().rss;
  };
  const warm = await rssAfter(1_000);
  const samples = [warm];
  for (let round = 0; round < 9; round++) samples.push(await rssAfter(1_000));
  t.equal(next, 10_000, '10,000 episodes ran');
  const growthMb = (samples.at(-1)! - warm) / 2 ** 20;
  t.comment(`RSS after each 1,000 episodes (MB): ${samples.map((bytes) => Math.round(bytes / 2 ** 20)).join(' ')}`);
  t.ok(growthMb < 64, `RSS grew ${growthMb.toFixed(1)} MB over the last 9,000 episodes (flat: < 64 MB)`);
  t.equal(backend.episodeCount, 0, 'no episode is left open');
});
