import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The oldest CPython the step runner supports: it installs its audit hook with `sys.addaudithook` (3.8). */
export const MIN_PYTHON_VERSION = [3, 8] as const;

/** How long the interpreter may take to answer the probe. @default 10 s (the probe takes ~70 ms on a busy 2-core machine) */
export const PYTHON_PROBE_TIMEOUT_MS = 10_000;

/**
 * The probe: refuses interpreters older than {@link MIN_PYTHON_VERSION} (written so that Python 2
 * can still run it and say so), imports every module the runner imports, compiles the runner's own
 * source (so syntax newer than the interpreter is caught here rather than at the first reset) and
 * prints the version.
 */
const PROBE_CODE = [
  'import sys',
  `if sys.version_info[:2] < (${MIN_PYTHON_VERSION.join(', ')}): raise SystemExit("Python %d.%d.%d is older than ${MIN_PYTHON_VERSION.join('.')}" % sys.version_info[:3])`,
  'import ast, builtins, io, json, linecache, math, os, resource, signal, traceback, warnings',
  'compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")',
  'print("%d.%d.%d" % sys.version_info[:3])',
].join('\n');

/** What {@link probePython} found: a version, or why the interpreter cannot run sandboxes. */
export type PythonProbe = { usable: true; version: string } | { usable: false; reason: string };

/**
 * Find out, once and cheaply (one interpreter start, ~70 ms on a busy 2-core machine), whether `pythonPath` can run the step
 * runner at `runnerPath`: it exists, starts, is Python 3.8 or newer, has the modules the runner
 * imports and compiles its source. Runs outside any sandbox, with an empty environment and `-I`
 * (no user site, no PYTHON* variables), as sandboxes start it. A failure is a value, never thrown.
 * @param pythonPath the interpreter, by absolute path (e.g. `/usr/bin/python3`)
 * @param runnerPath the runner's source on the host (`RUNNER_PATH`)
 */
export async function probePython(pythonPath: string, runnerPath: string, { timeoutMs = PYTHON_PROBE_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<PythonProbe> {
  try {
    const { stdout } = await run(pythonPath, ['-I', '-B', '-c', PROBE_CODE, runnerPath], { env: {}, timeout: timeoutMs });
    const version = stdout.trim();
    if (/^3\.\d+\.\d+$/.test(version)) return { usable: true, version };
    return { usable: false, reason: `it printed ${JSON.stringify(version.slice(0, 200))} where a Python 3 version was expected` };
  } catch (error) {
    const failure = error as { code?: string | number | null; killed?: boolean; stderr?: string; message: string };
    if (failure.killed === true) return { usable: false, reason: `it did not answer within ${timeoutMs} ms` };
    // A spawn failure (ENOENT, EACCES) has a string code and says so in its message.
    if (typeof failure.code === 'string') return { usable: false, reason: failure.message };
    // The last line of a traceback names the missing module or the syntax error.
    const lastLine = (failure.stderr ?? '').trim().split('\n').at(-1);
    return { usable: false, reason: lastLine || `it exited with code ${String(failure.code)} and said nothing` };
  }
}
