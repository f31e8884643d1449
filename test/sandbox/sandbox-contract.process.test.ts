import t from 'tap';
import { createProcessBackend } from '../../sandbox/index.js';
import { testNoSandboxOutlivesClose, trackSpawnedProcesses } from '../fixtures/sandbox-processes.js';
import { PYTHON_SNIPPETS } from './python-snippets.js';
import { sandboxContract } from './sandbox-contract.js';

// The language-neutral sandbox contract, on the `process` backend (a CPython child per episode).

/** Every child process this file starts; the last test checks no sandbox process outlived its close(). */
const spawned = trackSpawnedProcesses();

sandboxContract(t, { start: (options) => createProcessBackend(options), snippets: PYTHON_SNIPPETS });

testNoSandboxOutlivesClose(t, spawned);
