import t from 'tap';
import { createProcessBackend, createPyodideBackend } from '../../sandbox/index.js';
import { PYODIDE_INTERRUPT_GRACE_MS } from '../../sandbox/pyodide/pyodide-backend.js';
import { INTERRUPT_ONLY_GRACE_MS, measuredInterruptGraceMs } from '../fixtures/interrupt-grace.js';
import { runCorpus } from './corpus.js';
import { pythonCases } from './python-cases.js';

// The escape corpus on the `pyodide` backend: a Node process hosting Pyodide per episode, under the permission model and bubblewrap.
const probe = await createProcessBackend();
// Cases that must time out (124) and cases that must be killed (137) share one server: its kill
// grace is measured on this machine now, so a loaded one does not turn the first into the second.
const interruptGraceMs = await measuredInterruptGraceMs(await createPyodideBackend({ interruptGraceMs: INTERRUPT_ONLY_GRACE_MS }), PYODIDE_INTERRUPT_GRACE_MS);
t.comment(`kill grace ${interruptGraceMs} ms`);
await runCorpus(t, {
  language: 'python',
  backend: 'pyodide',
  cases: pythonCases({ backend: 'pyodide', namespaces: probe.isolation === 'namespaces', isolationReason: probe.isolationReason }),
  env: { sandbox: { interruptGraceMs } },
});
