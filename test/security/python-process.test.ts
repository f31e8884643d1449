import t from 'tap';
import { createProcessBackend } from '../../sandbox/index.js';
import { runCorpus } from './corpus.js';
import { pythonCases } from './python-cases.js';

// The escape corpus on the `process` backend: a CPython child per episode under bubblewrap.
const probe = await createProcessBackend();
await runCorpus(t, {
  language: 'python',
  backend: 'process',
  cases: pythonCases({ backend: 'process', namespaces: probe.isolation === 'namespaces', isolationReason: probe.isolationReason }),
});
