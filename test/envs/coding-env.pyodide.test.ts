import { codingEnvSuite } from './coding-env-suite.js';

// The coding_env suite on the `pyodide` backend (the default): CPython in WebAssembly, a Node
// process per episode.
await codingEnvSuite({ language: 'python', backend: 'pyodide' });
