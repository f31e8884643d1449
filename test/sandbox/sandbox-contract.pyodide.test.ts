import t from 'tap';
import { createPyodideBackend } from '../../sandbox/index.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { PYTHON_SNIPPETS } from './python-snippets.js';
import { sandboxContract } from './sandbox-contract.js';

// The language-neutral sandbox contract, on the `pyodide` backend (CPython in WebAssembly, a guest
// Node per episode).

/** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
const spawned = trackSpawnedProcesses();

sandboxContract(t, { start: (options) => createPyodideBackend(options), snippets: PYTHON_SNIPPETS });

testNoSandboxOutlivesClose(t, spawned);
