import { codingEnvSuite } from './coding-env-suite.js';

// The coding_env suite on JavaScript episodes: a QuickJS context per episode, in worker threads
// shared by a few episodes each.
await codingEnvSuite({ language: 'javascript' });
