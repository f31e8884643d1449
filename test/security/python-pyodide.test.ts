import t from 'tap';
import { createProcessBackend } from '../../sandbox/index.js';
import { runCorpus } from './corpus.js';
import { pythonCases } from './python-cases.js';

// The escape corpus on the `pyodide` backend: a Node process hosting Pyodide per episode, under the permission model and bubblewrap.
const probe = await createProcessBackend();
await runCorpus(t, {
  language: 'python',
  backend: 'pyodide',
  cases: pythonCases({ backend: 'pyodide', namespaces: probe.isolation === 'namespaces', isolationReason: probe.isolationReason }),
});
