import type { ContractSnippets } from './sandbox-contract.js';

/**
 * An inner loop that swallows every KeyboardInterrupt. The inner `pass` sits on a line of its own:
 * CPython 3.11 does not deliver a signal-raised exception to the `except` of a one-line
 * `while True: pass` (it escapes the try), which would make this an ordinary timeout.
 */
export const SWALLOWING_LOOP = 'while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass';

/** The sandbox contract's behaviours in Python, for both Python backends. */
export const PYTHON_SNIPPETS: ContractSnippets = {
  nothing: 'pass',
  define: 'kept = 41\ndef inc(n):\n    return n + 1',
  use: 'inc(kept)',
  print: "print('hello')",
  raise: "raise ValueError('boom')",
  syntaxError: 'def (',
  exit: (code) => `import sys\nsys.exit(${code})`,
  busyLoop: 'while True: pass',
  defineThenLoop: 'during = 1\nwhile True: pass',
  useDuring: 'during',
  printThenLoop: "print('partial')\nwhile True: pass",
  sleep: 'import time\ntime.sleep(30)',
  ignoreInterrupt: SWALLOWING_LOOP,
  printMany: (count) => `print('x' * ${count})`,
  printManyToStderr: (count) => `import sys\nprint('e' * ${count}, file=sys.stderr)`,
};
