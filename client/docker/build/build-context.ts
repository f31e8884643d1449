import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DockerIgnore } from './dockerignore.js';
import { productionPackages } from './production-packages.js';

/** Options of {@link listBuildContext}. */
export interface BuildContextOptions {
  /** The folder whose files make up the context. */
  contextDir: string;
  /** The Dockerfile; relative paths are relative to `contextDir`. It may lie outside the context. */
  dockerfile: string;
  /**
   * Put only the production packages of the context's `node_modules/` in the context (see
   * {@link productionPackages}); false: `node_modules/` as it is. @default true
   */
  productionNodeModulesOnly?: boolean;
  /** Production packages to leave out, with what only they need (see {@link productionPackages}). */
  omitPackages?: readonly string[];
}

/** One entry of a build context. */
export interface ContextEntry {
  /** Path inside the context, `/`-separated. */
  name: string;
  type: 'file' | 'directory' | 'symlink';
  /** Where to read it from. */
  source: string;
  /** File size in bytes (0 for the others). */
  size: number;
  /** Permission bits. */
  mode: number;
  mtime: Date;
  /** A symlink's target. */
  linkname?: string;
}

/** A build context ready to stream: what is in it, and where the Dockerfile is inside it. */
export interface BuildContext {
  entries: ContextEntry[];
  /** The Dockerfile's path inside the context (the build's `dockerfile` parameter). */
  dockerfile: string;
  /** Files in the context. */
  fileCount: number;
  /** Bytes of file content (the tar adds headers and padding). */
  contentBytes: number;
  /** The `.dockerignore` patterns applied (empty when there is none). */
  ignorePatterns: string[];
  /** The production packages included, when only those were (`node_modules/...`). */
  productionPackages: string[] | undefined;
}

/**
 * List what a build context of `contextDir` holds, as `docker build` would send it: every file
 * not excluded by the `.dockerignore` at the context root, with only production packages from
 * `node_modules/` (unless told otherwise). The Dockerfile and `.dockerignore` are always sent,
 * as the docker CLI does (the engine needs them; COPY still skips them when ignored); a Dockerfile
 * outside the context is added under a random `.dockerfile.<hex>` name. Entries are sorted, so the
 * same tree gives the same tar.
 * @throws {MissingDependencyError} when a production dependency is not installed
 */
export async function listBuildContext(options: BuildContextOptions): Promise<BuildContext> {
  const root = resolve(options.contextDir);
  const dockerfilePath = resolve(root, options.dockerfile);
  const ignoreText = await readFile(join(root, '.dockerignore'), 'utf8').catch(() => '');
  const ignore = new DockerIgnore(ignoreText);
  const productionOnly = options.productionNodeModulesOnly ?? true;
  const entries = new Map<string, ContextEntry>();

  const add = async (name: string, source: string): Promise<'directory' | 'other' | 'skipped'> => {
    const stats = await lstat(source);
    const entry: ContextEntry = { name, type: 'file', source, size: 0, mode: stats.mode & 0o7777, mtime: stats.mtime };
    if (stats.isDirectory()) entry.type = 'directory';
    else if (stats.isSymbolicLink()) {
      entry.type = 'symlink';
      entry.linkname = await readlink(source);
    } else if (stats.isFile()) entry.size = stats.size;
    else return 'skipped'; // sockets, fifos, devices: docker build skips them too
    entries.set(name, entry);
    return entry.type === 'directory' ? 'directory' : 'other';
  };

  /** Walk `dir` (relative `prefix`), applying the ignore file; `skip(name)` prunes a subtree. */
  const walk = async (dir: string, prefix: string, skip: (name: string) => boolean): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const child of names) {
      const name = prefix === '' ? child : `${prefix}/${child}`;
      if (skip(name)) continue;
      const source = join(dir, child);
      const ignored = ignore.ignores(name);
      // An ignored directory may still hold files a `!` pattern brings back.
      if (ignored && !ignore.hasExclusions) continue;
      const stats = await lstat(source);
      if (stats.isDirectory()) {
        if (!ignored) await add(name, source);
        await walk(source, name, skip);
      } else if (!ignored) await add(name, source);
    }
  };

  let packages: string[] | undefined;
  if (productionOnly) {
    // node_modules/ at the root holds only production packages, each walked on its own (without
    // its nested node_modules/: nested packages are in the list themselves when needed).
    packages = await productionPackages(root, { omit: options.omitPackages ?? [] });
    await walk(root, '', (name) => name === 'node_modules');
    for (const pkg of packages) {
      if (ignore.ignores(pkg) && !ignore.hasExclusions) continue;
      const parts = pkg.split('/');
      for (let depth = 1; depth <= parts.length; depth += 1) {
        const name = parts.slice(0, depth).join('/');
        if (!entries.has(name) && !ignore.ignores(name)) await add(name, join(root, name));
      }
      await walk(join(root, pkg), pkg, (name) => name === `${pkg}/node_modules`);
    }
  } else {
    await walk(root, '', () => false);
  }

  // The engine needs the Dockerfile and .dockerignore whatever the ignore file says.
  let dockerfile = relative(root, dockerfilePath).split(sep).join('/');
  if (dockerfile.startsWith('../') || isAbsolute(dockerfile)) {
    dockerfile = `.dockerfile.${randomBytes(10).toString('hex')}`;
  }
  if (!entries.has(dockerfile)) await add(dockerfile, dockerfilePath);
  if (ignoreText !== '' && !entries.has('.dockerignore')) await add('.dockerignore', join(root, '.dockerignore'));

  const sorted = [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files = sorted.filter((entry) => entry.type === 'file');
  return {
    entries: sorted,
    dockerfile,
    fileCount: files.length,
    contentBytes: files.reduce((sum, entry) => sum + entry.size, 0),
    ignorePatterns: ignore.patterns,
    productionPackages: packages,
  };
}

/** Bytes a tar of `context` takes: a 512-byte header per entry, content padded to 512, two zero blocks. */
export function tarSize(context: BuildContext): number {
  return context.entries.reduce((sum, entry) => sum + 512 + Math.ceil(entry.size / 512) * 512, 1024);
}

/**
 * Stream `context` as an uncompressed tar (the engine unpacks it; compressing for a local socket
 * costs more than it saves), owned by root like the docker CLI's contexts. Files are read as
 * they are packed; a read failure destroys the stream with that error.
 */
export function packBuildContext(context: BuildContext): Readable {
  const out = new PassThrough();
  void (async () => {
    const { pack: createPack } = await import('tar-stream');
    const pack = createPack();
    pack.on('error', (error) => out.destroy(error));
    pack.pipe(out);
    for (const entry of context.entries) {
      const header = { name: entry.name, mode: entry.mode, mtime: entry.mtime, uid: 0, gid: 0, uname: '', gname: '' };
      if (entry.type === 'directory') {
        pack.entry({ ...header, type: 'directory' });
      } else if (entry.type === 'symlink') {
        pack.entry({ ...header, type: 'symlink', linkname: entry.linkname ?? '' });
      } else {
        const sink = pack.entry({ ...header, type: 'file', size: entry.size });
        await pipeline(createReadStream(entry.source), sink);
      }
    }
    pack.finalize();
  })().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}
