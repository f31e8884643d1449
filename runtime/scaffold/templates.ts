/** What the templates of a new environment package are filled with. */
export interface ScaffoldNames {
  /** The environment's name (`--name`), an identifier: `guess_number`. */
  env: string;
  /** The npm package name: the environment's name in lower case. */
  pkg: string;
  /** The prefix of its type and class names: `GuessNumber`. */
  pascal: string;
}

/** The versions the new package depends on, taken from the envbox that writes it. */
export interface ScaffoldVersions {
  /** How the package depends on envbox: a range (`^0.1.0`) or a spec npm installs (`file:../envbox-0.1.0.tgz`). */
  envbox: string;
  /** envbox's own version, for the peer dependency's range. */
  envboxVersion: string;
  zod: string;
  typescript: string;
  typesNode: string;
}

/** The files of a new environment package, by path relative to its folder. */
export function scaffoldFiles(names: ScaffoldNames, versions: ScaffoldVersions): Record<string, string> {
  const { env, pkg, pascal } = names;
  return {
    'package.json': `${JSON.stringify(
      {
        name: pkg,
        version: '0.1.0',
        description: `${env}: an environment served by envbox over the OpenEnv protocol`,
        type: 'module',
        main: './dist/src/index.js',
        types: './dist/src/index.d.ts',
        exports: {
          '.': { types: './dist/src/index.d.ts', import: './dist/src/index.js' },
          './client': { types: './dist/src/client.d.ts', import: './dist/src/client.js' },
        },
        files: ['dist/src', 'README.md', 'Dockerfile'],
        engines: { node: '>=20' },
        scripts: {
          // dist/ is emptied first: a renamed or deleted test must not keep running from an old build.
          clean: "node -e \"require('node:fs').rmSync('dist', { recursive: true, force: true })\"",
          build: 'npm run clean && tsc -p tsconfig.json',
          test: 'npm run build && node --test dist/test/*.test.js',
          serve: 'npm run build && envbox serve --env . --web',
          validate: 'npm run build && envbox validate .',
          'build-image': `npm run build && envbox build-image --env . --tag ${pkg}:latest`,
        },
        dependencies: { zod: versions.zod },
        peerDependencies: { envbox: `^${versions.envboxVersion}` },
        devDependencies: { '@types/node': versions.typesNode, envbox: versions.envbox, typescript: versions.typescript },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'ESNext.Disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          declaration: true,
          sourceMap: true,
          skipLibCheck: true,
          outDir: 'dist',
          rootDir: '.',
        },
        include: ['src', 'test'],
      },
      null,
      2,
    )}\n`,
    '.gitignore': 'node_modules/\ndist/\n*.tgz\n',
    // The image takes the package as it is (dist/ and production node_modules/), not its sources.
    '.dockerignore': '.git\nsrc/\ntest/\ndist/test/\n*.tgz\n',
    'src/models.ts': `import { z } from 'zod';
import { Action, Observation, State } from 'envbox';

/**
 * What the agent does: guess a number. Actions are strict (an unknown field is a 422), and the
 * \`examples\` reach \`/schema\`, where \`envbox validate\` finds an action to step with.
 */
export const ${pascal}Action = Action.extend({
  guess: z.number().int().describe('the number guessed'),
}).meta({ examples: [{ guess: 50 }] });
export type ${pascal}Action = z.infer<typeof ${pascal}Action>;

/** What the agent sees after each call: a hint about its last guess, and the guesses left. */
export const ${pascal}Observation = Observation.extend({
  hint: z.enum(['start', 'higher', 'lower', 'correct', 'out of guesses']),
  low: z.number().int(),
  high: z.number().int(),
  guesses_left: z.number().int().nonnegative(),
});
export type ${pascal}Observation = z.infer<typeof ${pascal}Observation>;

/** Where the episode stands (\`episode_id\` and \`step_count\` come from the protocol). */
export const ${pascal}State = State.extend({
  guesses_left: z.number().int().nonnegative(),
  solved: z.boolean(),
});
export type ${pascal}State = z.infer<typeof ${pascal}State>;
`,
    'src/environment.ts': `import { randomUUID } from 'node:crypto';
import type { Environment, ResetOptions } from 'envbox';
import type { ${pascal}Action, ${pascal}Observation, ${pascal}State } from './models.js';

/** The options of ${env} (see src/index.ts: each is a flag of \`envbox serve\`). */
export interface ${pascal}Options {
  /** The secret is drawn from 1 to this. */
  max: number;
  /** Guesses per episode. */
  guesses: number;
}

/**
 * Guess the number: the secret is drawn from 1 to \`max\` (from \`reset({ seed })\` when given, so
 * an episode can be replayed); each guess is answered higher or lower. Reward 1 for the right
 * guess, 0 otherwise; the episode ends when it is found or the guesses run out. The server keeps
 * one instance per session and never calls it concurrently.
 */
export class ${pascal}Environment implements Environment<${pascal}Action, ${pascal}Observation, ${pascal}State> {
  readonly #options: ${pascal}Options;
  #episodeId: string = randomUUID();
  #secret = 0;
  #low = 1;
  #high = 1;
  #stepCount = 0;
  #guessesLeft = 0;
  #solved = false;

  constructor(options: ${pascal}Options) {
    this.#options = options;
  }

  reset(options: ResetOptions): ${pascal}Observation {
    this.#episodeId = options.episode_id ?? randomUUID();
    const random = options.seed === undefined || options.seed === null ? Math.random : seededRandom(options.seed);
    this.#secret = 1 + Math.floor(random() * this.#options.max);
    this.#low = 1;
    this.#high = this.#options.max;
    this.#stepCount = 0;
    this.#guessesLeft = this.#options.guesses;
    this.#solved = false;
    return this.#observe('start', 0, false);
  }

  step(action: ${pascal}Action): ${pascal}Observation {
    if (this.#solved || this.#guessesLeft === 0) return this.#observe(this.#solved ? 'correct' : 'out of guesses', 0, true);
    this.#stepCount += 1;
    this.#guessesLeft -= 1;
    if (action.guess === this.#secret) {
      this.#solved = true;
      return this.#observe('correct', 1, true);
    }
    if (action.guess < this.#secret) this.#low = Math.max(this.#low, action.guess + 1);
    else this.#high = Math.min(this.#high, action.guess - 1);
    const hint = this.#guessesLeft === 0 ? 'out of guesses' : action.guess < this.#secret ? 'higher' : 'lower';
    return this.#observe(hint, 0, this.#guessesLeft === 0);
  }

  state(): ${pascal}State {
    return { episode_id: this.#episodeId, step_count: this.#stepCount, guesses_left: this.#guessesLeft, solved: this.#solved };
  }

  close(): void {}

  #observe(hint: ${pascal}Observation['hint'], reward: number, done: boolean): ${pascal}Observation {
    return { hint, low: this.#low, high: this.#high, guesses_left: this.#guessesLeft, done, reward, metadata: {} };
  }
}

/** A small seeded generator (mulberry32): the same seed, the same episode. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
`,
    'src/index.ts': `import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envOption, type EnvDefinition, type EnvFactory } from 'envbox';
import { ${pascal}Environment } from './environment.js';
import { ${pascal}Action, ${pascal}Observation, ${pascal}State } from './models.js';

export * from './models.js';
export { ${pascal}Environment } from './environment.js';

/**
 * The options of ${env}: each becomes a flag and an ENVBOX_* variable of \`envbox serve --env .\`
 * (\`max\` is \`--max\` and \`ENVBOX_MAX\`), listed by \`envbox serve --env . --help\`.
 */
export const ${pascal}Options = z.object({
  max: envOption(z.coerce.number().int().min(1).max(1_000_000).default(100), { help: 'the secret is drawn from 1 to this (default 100)', expected: 'an integer from 1 to 1000000' }),
  guesses: envOption(z.coerce.number().int().min(1).max(1000).default(7), { help: 'guesses per episode (default 7)', expected: 'an integer from 1 to 1000' }),
});

/** ${env} as \`envbox serve --env <this package>\` loads it: its options, and how to make its definition. */
const environment: EnvFactory<typeof ${pascal}Options> = {
  options: ${pascal}Options,
  create(options): EnvDefinition<${pascal}Action, ${pascal}Observation, ${pascal}State> {
    return {
      name: '${env}',
      description: 'Guess the number: each guess is answered higher or lower; reward 1 for the right one.',
      version: '0.1.0',
      readme: readFileSync(new URL('../../README.md', import.meta.url), 'utf8'),
      action: ${pascal}Action,
      observation: ${pascal}Observation,
      state: ${pascal}State,
      create: () => new ${pascal}Environment(options),
    };
  },
};
export default environment;
`,
    'src/client.ts': `import type { z } from 'zod';
import { EnvClient, type EnvClientOptions } from 'envbox';
import { ${pascal}Observation, ${pascal}State, type ${pascal}Action } from './models.js';

/**
 * The typed client of ${env}: observations and states parsed with its own schemas.
 * @example
 * await using env = await ${pascal}Env.fromDockerImage('${pkg}:latest'); // removed when env is disposed
 * // or, with a server running: new ${pascal}Env({ baseUrl: 'http://127.0.0.1:8000', transport: 'ws' })
 * const { observation } = await env.reset({ seed: 1 });
 * const { reward, done } = await env.step({ guess: 50 });
 */
export class ${pascal}Env extends EnvClient<z.input<typeof ${pascal}Action>, ${pascal}Observation, ${pascal}State> {
  constructor(options: EnvClientOptions) {
    super({ observation: ${pascal}Observation, state: ${pascal}State }, options);
  }
}
`,
    [`test/${pkg}.test.ts`]: `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, startServer } from 'envbox';
import { formatReport, validateEnvironment } from 'envbox/testing';
import environment, { ${pascal}Environment } from '../src/index.js';
import { ${pascal}Env } from '../src/client.js';

test('the conformance kit passes: HTTP, WebSocket, schemas, sessions, errors', async () => {
  const report = await validateEnvironment(environment);
  assert.ok(report.passed, formatReport(report));
});

test('the same seed, the same episode', async () => {
  const play = (seed: number): string[] => {
    const env = new ${pascal}Environment({ max: 100, guesses: 7 });
    env.reset({ seed, signal: AbortSignal.timeout(1000) });
    return [50, 25, 75, 10].map((guess) => env.step({ guess, metadata: {} }).hint);
  };
  assert.deepEqual(play(42), play(42));
});

test('halving finds the number within the guesses, with reward 1', async () => {
  const definition = await environment.create({ max: 100, guesses: 7 }, { logger: createLogger('error') });
  const server = await startServer(definition, { logLevel: 'error' });
  await using env = new ${pascal}Env({ baseUrl: server.url, transport: 'ws' });
  try {
    let { observation } = await env.reset({ seed: 7 });
    let result;
    do {
      result = await env.step({ guess: Math.floor((observation.low + observation.high) / 2) });
      observation = result.observation;
    } while (!result.done);
    assert.equal(observation.hint, 'correct');
    assert.equal(result.reward, 1);
    assert.equal((await env.state()).solved, true);
  } finally {
    await server.close();
  }
});
`,
    Dockerfile: `# ${env} as an envbox appliance: envbox's hardened appliance image (its user, health check, entry
# point and sandboxes) with this package added. Build it with
#   npm run build && npx envbox build-image --env . --tag ${pkg}:latest
# which sends this folder (dist/, package.json, production node_modules/ without envbox) as the
# context and builds FROM envbox/appliance:latest (make it with \`envbox build-image\`).
ARG BASE_IMAGE=envbox/appliance:latest
FROM \${BASE_IMAGE}
USER root
COPY . /opt/envbox/node_modules/${pkg}/
# The package imports envbox: the appliance's own, so one envbox runs the server and the environment.
RUN ln -sfn /opt/envbox /opt/envbox/node_modules/envbox
USER 10001
CMD ["--env", "${pkg}"]
`,
    'README.md': `# ${env}

Guess the number, as an [envbox](https://www.npmjs.com/package/envbox) environment served over the
OpenEnv protocol (HTTP, WebSocket, MCP), with sessions, errors, metrics, auth and a web page from
envbox. Each episode draws a secret from 1 to \`max\`; each guess is answered \`higher\` or \`lower\`;
reward 1 for the right guess, 0 otherwise; the episode ends when it is found or after \`guesses\`
guesses. \`reset({ seed })\` replays an episode.

| | |
|---|---|
| Action | \`{ "guess": <integer> }\` |
| Observation | \`hint\` (\`start\`, \`higher\`, \`lower\`, \`correct\`, \`out of guesses\`), \`low\`, \`high\`, \`guesses_left\`, \`done\`, \`reward\` |
| State | \`episode_id\`, \`step_count\`, \`guesses_left\`, \`solved\` |
| Options | \`--max\` / \`ENVBOX_MAX\` (default 100), \`--guesses\` / \`ENVBOX_GUESSES\` (default 7) |

\`\`\`sh
npm install
npm test                                      # build, unit tests, the envbox conformance kit
npm run serve                                 # envbox serve --env . --web on http://127.0.0.1:8000
npx envbox validate http://127.0.0.1:8000     # or: npm run validate
npm run build-image                           # the appliance image ${pkg}:latest
\`\`\`

From TypeScript:

\`\`\`ts
import { ${pascal}Env } from '${pkg}/client';
await using env = await ${pascal}Env.fromDockerImage('${pkg}:latest');
const { observation } = await env.reset({ seed: 1 });
const { reward, done } = await env.step({ guess: 50 });
\`\`\`

Layout: \`src/models.ts\` (the zod action, observation and state), \`src/environment.ts\` (the game),
\`src/index.ts\` (the default export envbox loads: options and definition), \`src/client.ts\` (the
typed client), \`test/\` (node:test), \`Dockerfile\` (the appliance image).
`,
  };
}
