import { codingEnvSuite } from './coding-env-suite.js';

// The coding_env suite on the `process` backend: a CPython child per episode.
await codingEnvSuite({ language: 'python', backend: 'process' });
