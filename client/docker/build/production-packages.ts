import { readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { EnvboxError } from '../../../protocol/index.js';

/** The parts of a package.json that decide what it needs at run time. */
interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** `MISSING_DEPENDENCY`: a production dependency that should be installed is not (client side, status 0). */
export class MissingDependencyError extends EnvboxError {
  constructor(message: string) {
    super('MISSING_DEPENDENCY', 0, message);
  }
}

/**
 * The installed packages the package at `root` needs at run time: its `dependencies`,
 * `optionalDependencies` and `peerDependencies`, and theirs, transitively, each resolved the way
 * Node resolves it (the nearest `node_modules/<name>` from the requiring package up to `root`).
 * Dev dependencies are never followed. The same set as `npm ls --omit=dev --all --parseable`,
 * without needing npm (test/client/docker/build/build-image.test.ts compares the two).
 *
 * @param options.omit packages to leave out, with what only they need (e.g. `envbox`, which the
 *   appliance an environment image builds from already has)
 * @returns package folders relative to `root`, `/`-separated, sorted, e.g. `node_modules/@koa/router`
 * @throws {MissingDependencyError} when a required (non-optional) dependency is not installed
 */
export async function productionPackages(root: string, options: { omit?: readonly string[] } = {}): Promise<string[]> {
  const omit = new Set(options.omit ?? []);
  const found = new Set<string>();
  const queue: string[] = [root];
  while (queue.length > 0) {
    const dir = queue.shift()!;
    const manifest = await readManifest(join(dir, 'package.json'));
    if (manifest === undefined) continue;
    const optional = new Set(Object.keys(manifest.optionalDependencies ?? {}));
    // npm installs peers (since v7); a missing peer is the package's problem only at run time.
    for (const name of Object.keys(manifest.peerDependencies ?? {})) optional.add(name);
    const names = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    for (const name of names) {
      // An omitted package is not followed: its own dependencies come only where another needs them.
      if (omit.has(name)) continue;
      const location = await resolvePackage(root, dir, name);
      if (location === undefined) {
        if (optional.has(name)) continue;
        const who = dir === root ? 'the package' : relative(root, dir).split(sep).join('/');
        throw new MissingDependencyError(`Dependency ${name} of ${who} is not installed under ${root}; run \`npm ci\` first.`);
      }
      const key = relative(root, location).split(sep).join('/');
      if (found.has(key)) continue;
      found.add(key);
      queue.push(location);
    }
  }
  return [...found].sort();
}

/** The folder Node would load `name` from when required in `from`, looking no higher than `root`. */
async function resolvePackage(root: string, from: string, name: string): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    // A package's own node_modules, then its parents' (skipping `node_modules` folders themselves).
    if (!dir.endsWith(`${sep}node_modules`)) {
      const candidate = join(dir, 'node_modules', name);
      if ((await readManifest(join(candidate, 'package.json'))) !== undefined) return candidate;
    }
    if (dir === root || dirname(dir) === dir || !dir.startsWith(root)) return undefined;
  }
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}
