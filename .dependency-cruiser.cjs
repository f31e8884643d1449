/**
 * The import rules of envbox's layers (docs/ARCHITECTURE.md), checked by `make test`:
 *
 *   cli.ts, index.ts, testing.ts     the command and the package API: may import everything
 *   envs/                            environments: protocol/, sandbox/, client/
 *   runtime/   sandbox/   client/    side by side, never importing each other
 *   protocol/                        the floor: imports no layer
 *
 * and a layer is imported through its index.ts only, never from a deep path. bench/ and test/
 * may import anything.
 * @type {import('dependency-cruiser').IConfiguration}
 */
const LAYERS = ['protocol', 'runtime', 'sandbox', 'client', 'envs'];

/** A rule forbidding `from` to import any of `layers`. */
const forbid = (from, layers, comment) => ({
  name: `${from}-not-${layers.join('-')}`,
  comment,
  severity: 'error',
  from: { path: `^${from}/` },
  to: { path: `^(${layers.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle anywhere: each module can be understood (and loaded) after what it imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    forbid('protocol', ['runtime', 'sandbox', 'client', 'envs', 'bench', 'test'], 'protocol/ is the floor: wire models, errors, the environment contract; it imports no layer.'),
    forbid('runtime', ['sandbox', 'client', 'envs', 'bench', 'test'], 'runtime/ serves any EnvDefinition: it knows no sandbox, no client and no environment.'),
    forbid('sandbox', ['runtime', 'client', 'envs', 'bench', 'test'], 'sandbox/ runs code with limits: it knows no HTTP, no sessions, no client.'),
    forbid('client', ['runtime', 'sandbox', 'envs', 'bench', 'test'], 'client/ talks to any server and starts containers: it knows no server internals.'),
    forbid('envs', ['runtime', 'bench', 'test'], 'envs/ compose protocol/, sandbox/ and client/; the server serves them without them knowing it.'),
    ...LAYERS.map((layer) => ({
      name: `${layer}-through-its-index`,
      comment: `Another layer imports ${layer}/ through ${layer}/index.ts only, never from a deep path.`,
      severity: 'error',
      from: { path: `^(${LAYERS.filter((other) => other !== layer).join('|')})/` },
      to: { path: `^${layer}/`, pathNot: `^${layer}/index\\.ts$` },
    })),
    {
      name: 'envs-through-their-index',
      comment: "One environment imports another (or envs/index.ts imports one) through that environment's index.ts only.",
      severity: 'error',
      from: { path: '^envs/([^/]+)/|^envs/index\\.ts$' },
      to: { path: '^envs/([^/]+)/', pathNot: ['^envs/$1/', '^envs/[^/]+/index\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.d.ts'] },
  },
};
