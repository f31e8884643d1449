import t from 'tap';
import { createProcessBackend } from '../../sandbox/index.js';
import { runCorpus } from './corpus.js';
import { CANARY_NAME, CANARY_VALUE, pythonCases } from './python-cases.js';

// The escape corpus on the `pyodide` backend: a Node process hosting Pyodide per episode, under the permission model and bubblewrap.
// The canary is in the server's environment before the server starts: no case may ever see it.
process.env[CANARY_NAME] = CANARY_VALUE;
t.setTimeout(200_000);
const probe = await createProcessBackend();
await runCorpus(t, {
  language: 'python',
  backend: 'pyodide',
  cases: pythonCases({ backend: 'pyodide', namespaces: probe.isolation === 'namespaces', isolationReason: probe.isolationReason }),
});
