import t from 'tap';
import { createProcessBackend, DEFAULT_INTERRUPT_GRACE_MS } from '../../sandbox/index.js';
import { INTERRUPT_ONLY_GRACE_MS, measuredInterruptGraceMs } from '../fixtures/interrupt-grace.js';
import { runCorpus } from './corpus.js';
import { pythonCases } from './python-cases.js';

// The escape corpus on the `process` backend: a CPython child per episode under bubblewrap.
const probe = await createProcessBackend();
// Cases that must time out (124) and cases that must be killed (137) share one server: its kill
// grace is measured on this machine now, so a loaded one does not turn the first into the second.
const interruptGraceMs = await measuredInterruptGraceMs(await createProcessBackend({ interruptGraceMs: INTERRUPT_ONLY_GRACE_MS }), DEFAULT_INTERRUPT_GRACE_MS);
t.comment(`kill grace ${interruptGraceMs} ms`);
await runCorpus(t, {
  language: 'python',
  backend: 'process',
  cases: pythonCases({ backend: 'process', namespaces: probe.isolation === 'namespaces', isolationReason: probe.isolationReason }),
  env: { sandbox: { interruptGraceMs } },
});
