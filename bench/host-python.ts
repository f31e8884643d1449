import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';
import { BenchError } from './bench-error.js';
import { Deadline } from './deadline.js';

const execFileAsync = promisify(execFile);

/** The host's plain CPython, the baseline of sandboxed steps. @default '/usr/bin/python3' */
export const HOST_PYTHON_PATH = '/usr/bin/python3';
/** How long the whole timing process may run. @default 120 s */
export const DEFAULT_HOST_PYTHON_TIMEOUT_MS = 120_000;

/**
 * Times `code` in one process with `time.perf_counter`, doing per run what the sandbox's step
 * runner does (parse, exec the body, eval a trailing expression and `repr` it, in one namespace
 * kept across runs) minus the channel and the output capture.
 */
const TIMING_SCRIPT = `
import ast, json, sys, time
code, runs = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
samples, result = [], None
for _ in range(runs):
    started = time.perf_counter()
    tree = ast.parse(code, "<bench>", "exec")
    last = ast.Expression(tree.body.pop().value) if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<bench>", "exec"), namespace)
    value = None if last is None else eval(compile(last, "<bench>", "eval"), namespace)
    result = None if value is None else repr(value)
    samples.append((time.perf_counter() - started) * 1000)
print(json.dumps({"python": "%d.%d.%d" % sys.version_info[:3], "samples_ms": samples, "result": result}))
`;

const TimingOutput = z.object({
  python: z.string(),
  samples_ms: z.array(z.number()),
  result: z.string().nullable(),
});

/** What {@link timeOnHostPython} measured. */
export interface HostPythonTiming {
  /** The interpreter that ran, e.g. `/usr/bin/python3`. */
  pythonPath: string;
  /** Its version, e.g. `3.11.7`. */
  pythonVersion: string;
  /** Duration of each run, in milliseconds, in order. */
  samplesMs: number[];
  /** `repr` of the code's trailing expression in the last run, or null. */
  result: string | null;
}

/** Options of {@link timeOnHostPython}. */
export interface HostPythonOptions {
  /** @default {@link HOST_PYTHON_PATH} */
  pythonPath?: string;
  /** @default {@link DEFAULT_HOST_PYTHON_TIMEOUT_MS} */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Run `code` `runs` times in one plain host python3 process, timing each run inside it.
 * @throws {BenchError} when python3 is missing, fails, times out or prints something else
 */
export async function timeOnHostPython(code: string, runs: number, options: HostPythonOptions = {}): Promise<HostPythonTiming> {
  const pythonPath = options.pythonPath ?? HOST_PYTHON_PATH;
  const timeoutMs = options.timeoutMs ?? DEFAULT_HOST_PYTHON_TIMEOUT_MS;
  const deadline = new Deadline(timeoutMs, options.signal);
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(pythonPath, ['-c', TIMING_SCRIPT, JSON.stringify([code, runs])], { signal: deadline.signal, encoding: 'utf8' }));
  } catch (error) {
    const timedOut = deadline.timedOut;
    const stderr = (error as { stderr?: unknown }).stderr;
    const said = typeof stderr === 'string' && stderr.trim() !== '' ? `; it said: ${stderr.trim().slice(-600)}` : '';
    throw new BenchError(
      timedOut
        ? `${pythonPath} did not finish ${runs} runs of ${JSON.stringify(code)} within ${timeoutMs} ms.`
        : `Timing ${JSON.stringify(code)} on ${pythonPath} failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)})${said}; install python3 (make system-packages).`,
      { cause: error },
    );
  } finally {
    deadline.close();
  }
  const parsed = TimingOutput.safeParse(safeJson(stdout.trim()));
  if (!parsed.success) throw new BenchError(`${pythonPath} printed ${JSON.stringify(stdout.slice(0, 300))}, expected one JSON line {"python", "samples_ms", "result"}.`);
  return { pythonPath, pythonVersion: parsed.data.python, samplesMs: parsed.data.samples_ms, result: parsed.data.result };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
