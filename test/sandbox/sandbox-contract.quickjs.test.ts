import t from 'tap';
import { createQuickJsBackend } from '../../sandbox/index.js';
import type { ContractSnippets } from './sandbox-contract.js';
import { sandboxContract } from './sandbox-contract.js';

// The language-neutral sandbox contract, on the QuickJS backend (a WebAssembly instance per
// episode, in worker threads).

/** The sandbox contract's behaviours in JavaScript. */
const JAVASCRIPT_SNIPPETS: ContractSnippets = {
  nothing: 'undefined',
  define: 'var kept = 41; function inc(n) { return n + 1 }',
  use: 'inc(kept)',
  print: "console.log('hello')",
  raise: "throw new Error('boom')",
  syntaxError: 'let = ;',
  exit: (code) => `process.exit(${code})`,
  busyLoop: 'while (true) {}',
  defineThenLoop: 'var during = 1; while (true) {}',
  useDuring: 'during',
  printThenLoop: "console.log('partial'); while (true) {}",
  sleep: 'await new Promise((resolve) => setTimeout(resolve, 30_000))',
  // A native call QuickJS's interrupt handler never reaches: only terminating the worker ends it.
  ignoreInterrupt: 'const a = []; a.length = 2 ** 32 - 1; a.includes(1)',
  printMany: (count) => `console.log('x'.repeat(${count}))`,
  printManyToStderr: (count) => `console.error('e'.repeat(${count}))`,
};

sandboxContract(t, {
  // One worker per backend (each starts cold, seconds on a loaded machine); episodes share it.
  start: ({ interruptGraceMs, maxOutputBytes } = {}) =>
    createQuickJsBackend({
      spreadWorkers: 1,
      ...(interruptGraceMs === undefined ? {} : { graceMs: interruptGraceMs }),
      ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }),
    }),
  snippets: JAVASCRIPT_SNIPPETS,
});
