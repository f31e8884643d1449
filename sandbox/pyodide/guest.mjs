// @ts-check
/**
 * envbox's Pyodide guest: one Node process per episode, started by the server under Node's
 * permission model (reads of the Pyodide package, this file and the runner only; no child
 * processes, no addons, no code from strings), an empty environment, prlimit, its own uid and
 * (where the host allows) bubblewrap namespaces. Python runs in a worker thread; the main thread only
 * turns SIGINT into a write to Pyodide's interrupt buffer, so a step's deadline stops a loop with
 * its state kept.
 *
 * It speaks the step runner's channel: length-prefixed frames, read on fd 3 and written on fd 4.
 * In `serve` mode an optional first raw frame holds a memory snapshot to start from; then the guest
 * answers `{"ready"}` and one reply per step. In `snapshot` mode it writes one raw frame holding a
 * fresh snapshot and exits.
 *
 * Plain JavaScript (no build step): it runs as it is under the permission model.
 */
import fs from 'node:fs';
import os from 'node:os';
import { isMainThread, Worker, workerData } from 'node:worker_threads';

/** Exit code of a guest that failed before or outside a step; the server reports the sandbox as lost. */
const EXIT_GUEST_FAILED = 70;
const READ_FD = 3;
const WRITE_FD = 4;
const SIGINT = 2;
const WASM_PAGE_BYTES = 65536;

/**
 * @typedef {object} GuestConfig
 * @property {'serve' | 'snapshot'} mode
 * @property {string} pyodideDir the Pyodide package, as this process sees it
 * @property {string} runnerPath the shared step runner, as this process sees it
 * @property {boolean} snapshot whether the server sends a snapshot first (serve mode)
 * @property {number} heapBytes cap of the WebAssembly heap: growing past it is a MemoryError
 * @property {number} workerHeapMb old-generation limit of the worker's JavaScript heap
 * @property {Record<string, unknown>} runner configuration handed to the runner's `start()`
 */

if (isMainThread) {
  /** @type {GuestConfig} */
  const config = JSON.parse(process.argv[2] ?? '{}');
  const interrupt = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { config, interrupt },
    env: {},
    stdout: false,
    stderr: false,
    resourceLimits: { maxOldGenerationSizeMb: config.workerHeapMb },
  });
  // The server's deadline: a KeyboardInterrupt at Python's next bytecode.
  process.on('SIGINT', () => Atomics.store(interrupt, 0, SIGINT));
  worker.on('error', (error) => {
    fs.writeSync(2, `envbox guest: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(EXIT_GUEST_FAILED);
  });
  worker.on('exit', (code) => process.exit(code));
} else {
  await runWorker(workerData.config, workerData.interrupt);
}

/**
 * @param {GuestConfig} config
 * @param {Int32Array} interrupt
 */
async function runWorker(config, interrupt) {
  shimProcessBinding();
  capWasmHeap(config.heapBytes);
  const { loadPyodide } = await import(new URL('pyodide.mjs', `file://${config.pyodideDir}/`).href);
  const quiet = () => undefined;
  const base = { indexURL: `${config.pyodideDir}/`, env: { HOME: '/workspace' }, stdout: quiet, stderr: quiet, checkAPIVersion: true };
  if (config.mode === 'snapshot') {
    const pyodide = await loadPyodide({ ...base, _makeSnapshot: true });
    // What the runner imports, so that a sandbox from the snapshot does not import it again.
    pyodide.runPython('import ast, asyncio, builtins, io, json, linecache, selectors, signal, subprocess, time, traceback, importlib.util');
    writeFrame(pyodide.makeMemorySnapshot());
    return;
  }
  const snapshot = config.snapshot ? readFrame() : undefined;
  if (snapshot === undefined && config.snapshot) return;
  let pyodide;
  try {
    pyodide = await loadPyodide({ ...base, ...(snapshot === undefined ? {} : { _loadSnapshot: snapshot }) });
  } catch (error) {
    if (snapshot === undefined) throw error;
    fs.writeSync(2, `envbox guest: the snapshot did not load (${String(error)}); loading Pyodide without it\n`);
    pyodide = await loadPyodide(base);
  }
  // Writes that bypass sys.stdout (os.write(1, ...)) go to the guest's own stderr, as in the
  // process backend: the runner captures a step's output itself.
  const raw = { write: (/** @type {Uint8Array} */ bytes) => fs.writeSync(2, bytes) };
  pyodide.setStdout(raw);
  pyodide.setStderr(raw);
  pyodide.setStdin({ stdin: () => undefined });
  pyodide.setInterruptBuffer(interrupt);
  // Packages would come from a CDN (and fail silently without one): there are none to load.
  const noPackages = () => Promise.reject(new Error('envbox: the pyodide backend has the standard library only; use the process backend for packages'));
  pyodide.loadPackage = noPackages;
  pyodide.loadPackagesFromImports = noPackages;
  pyodide.FS.mkdirTree('/workspace');
  pyodide.FS.chdir('/workspace');
  pyodide.FS.mkdirTree('/envbox');
  pyodide.FS.writeFile('/envbox/runner.py', fs.readFileSync(config.runnerPath));
  pyodide.globals.set('_envbox_config', JSON.stringify(config.runner));
  const session = pyodide.runPython(`
import importlib.util, json
_spec = importlib.util.spec_from_file_location("_envbox_runner", "/envbox/runner.py")
_runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_runner)
_session = _runner.start(json.loads(_envbox_config))
del _spec, _runner, _envbox_config
_session
`);
  pyodide.runPython('del _session');
  const step = session.step_json;
  const version = pyodide.runPython('import sys; "%d.%d.%d" % sys.version_info[:3]');
  writeJson({ ready: true, python: version });
  for (;;) {
    const request = readFrame();
    if (request === undefined) return;
    Atomics.store(interrupt, 0, 0);
    writeFrame(Buffer.from(step(request.toString('utf8')), 'utf8'));
  }
}

/** Pyodide's Node file system layer asks for `process.binding('constants')`, which the permission model refuses. */
function shimProcessBinding() {
  const constants = { fs: fs.constants, os: os.constants };
  Object.defineProperty(process, 'binding', {
    value: (/** @type {string} */ name) => {
      if (name === 'constants') return constants;
      throw new Error(`process.binding(${JSON.stringify(name)}) is not available in the envbox guest`);
    },
  });
}

/**
 * V8 does not bound the WebAssembly heap: refuse to grow it past `cap` bytes. Pyodide's malloc then
 * fails and Python raises MemoryError, with the episode's state kept.
 * @param {number} cap
 */
function capWasmHeap(cap) {
  const grow = WebAssembly.Memory.prototype.grow;
  Object.defineProperty(WebAssembly.Memory.prototype, 'grow', {
    value: function (/** @type {number} */ pages) {
      if (this.buffer.byteLength + pages * WASM_PAGE_BYTES > cap) throw new RangeError(`envbox: the WebAssembly heap may not grow past ${cap} bytes`);
      return grow.call(this, pages);
    },
  });
}

/**
 * @param {number} size
 * @returns {Buffer | undefined} undefined at the end of the channel
 */
function readExact(size) {
  const buffer = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const read = fs.readSync(READ_FD, buffer, offset, size - offset, null);
    if (read === 0) return undefined;
    offset += read;
  }
  return buffer;
}

/** @returns {Buffer | undefined} */
function readFrame() {
  const header = readExact(4);
  return header === undefined ? undefined : readExact(header.readUInt32BE(0));
}

/** @param {Uint8Array} body */
function writeFrame(body) {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  writeAll(header);
  writeAll(body);
}

/** @param {unknown} message */
function writeJson(message) {
  writeFrame(Buffer.from(JSON.stringify(message), 'utf8'));
}

/** @param {Uint8Array} bytes */
function writeAll(bytes) {
  let offset = 0;
  while (offset < bytes.length) offset += fs.writeSync(WRITE_FD, bytes, offset);
}
