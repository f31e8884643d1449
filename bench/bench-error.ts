/**
 * The harness itself failed (the server did not start, every call errored): the run's numbers
 * mean nothing and `run.js` exits non-zero. A missed performance target is not a `BenchError`.
 */
export class BenchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BenchError';
  }
}
