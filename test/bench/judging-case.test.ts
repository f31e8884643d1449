import t from 'tap';
import { judgingCase } from '../../bench/judging-case.js';

// The judging case end to end, small: its own server (the built CLI) with the sample task set.
t.test('the judging case measures /evaluate and submit latency in both languages', async (t) => {
  const progress: string[] = [];
  const result = await judgingCase({ items: 256, quickItems: 6, submits: 50, quickSubmits: 2, serverArgs: ['--pool-size', '1'] }).run({
    baseUrl: 'http://127.0.0.1:1',
    serverPid: 0,
    quick: true,
    settle: async () => undefined,
    progress: (message) => progress.push(message),
  });
  t.same(
    result.metrics.map((metric) => metric.metric),
    ['judging: python /evaluate', 'judging: python submit', 'judging: javascript /evaluate', 'judging: javascript submit'],
  );
  t.match(result.metrics[0], { result: /^\d+(\.\d)? submissions\/s$/, detail: /^6 sample references \(18 tests\) in [\d.]+ s, all scored 1$/ });
  t.match(result.metrics[1], { result: /^\+-?[\d.]+ ms p50$/ });
  t.match(progress, [/6 python reference solutions/, /2 submits/, /6 javascript/, /2 submits/]);
});
