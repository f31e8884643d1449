import { join } from 'node:path';
import { Transform } from 'node:stream';
import { listBuildContext, packBuildContext, tarSize, type BuildContext } from './build-context.js';
import type { BuildProgressEvent } from './build-progress.js';
import { connectDocker, describeEngineAddress, dockerError, engineAddress, engineMessage, engineStatus, type DockerEngine } from '../run/index.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { ImageBuildError } from './image-build-error.js';
import { MissingDependencyError } from './production-packages.js';

/** The image `build-image` makes and `fromDockerImage` runs by default. */
export const DEFAULT_IMAGE_TAG = 'envbox/appliance:latest';
/** The base image the appliance Dockerfile builds `FROM` (its `ARG BASE_IMAGE`). */
export const DEFAULT_BASE_IMAGE = 'node:22-bookworm-slim';
/** The appliance's Dockerfile, in the package. */
export const DEFAULT_DOCKERFILE: string = join(PACKAGE_ROOT, 'images', 'appliance', 'Dockerfile');
/** The build context: the package root (package.json, dist/, production node_modules/). */
export const DEFAULT_BUILD_CONTEXT: string = PACKAGE_ROOT;
/** Give up on a build after this long. @default 30 min */
export const DEFAULT_BUILD_TIMEOUT_MS = 30 * 60_000;
/** How many output lines an {@link ImageBuildError} carries. @default 30 */
const ERROR_TAIL_LINES = 30;

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** The tag to give the image. @default {@link DEFAULT_IMAGE_TAG} */
  tag?: string;
  /** Passed as the build argument `BASE_IMAGE`. @default {@link DEFAULT_BASE_IMAGE} */
  baseImage?: string;
  /** The Dockerfile; relative paths are relative to `context`. @default {@link DEFAULT_DOCKERFILE} */
  dockerfile?: string;
  /** The build context folder. @default {@link DEFAULT_BUILD_CONTEXT} */
  context?: string;
  /** More build arguments (`BASE_IMAGE` is set from `baseImage`). */
  buildArgs?: Readonly<Record<string, string>>;
  /** Labels on the image. */
  labels?: Readonly<Record<string, string>>;
  /** Ignore the build cache. @default false */
  noCache?: boolean;
  /** Only production packages of node_modules/ go in the context. @default true */
  productionNodeModulesOnly?: boolean;
  /** Production packages to leave out of node_modules/, with what only they need. */
  omitPackages?: readonly string[];
  /** The engine. @default the one `DOCKER_HOST` names, else the local socket */
  docker?: DockerEngine;
  /** Told about the context upload, each step, each output line, and the end. */
  onProgress?: (event: BuildProgressEvent) => void;
  /** Give up after this long. @default {@link DEFAULT_BUILD_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Abort the build. */
  signal?: AbortSignal;
}

/** What {@link buildImage} made. */
export interface BuildImageResult {
  tag: string;
  /** `sha256:...` */
  imageId: string;
  durationMs: number;
  /** Whether the engine was asked to pull the base (false when it was present locally). */
  pull: boolean;
  /** Steps the engine took from its cache, of `totalSteps`. */
  cachedSteps: number;
  totalSteps: number;
  /** The context that was sent. */
  context: BuildContext;
}

/** One JSON message of the engine's build stream. */
interface BuildMessage {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/**
 * Build an image from a build context streamed as a tar ({@link listBuildContext}: the
 * `.dockerignore` applied, only production node_modules). The base image is looked up first: when
 * the engine has it, the build runs with `pull: false` and never touches a registry (the offline
 * base `envbox/base:node22-bookworm` works with no registry at all).
 * @throws {DockerUnavailableError} when no engine answers
 * @throws {ImageBuildError} when the context cannot be made, a step fails, or the build times out or is aborted
 */
export async function buildImage(options: BuildImageOptions = {}): Promise<BuildImageResult> {
  const started = performance.now();
  const tag = options.tag ?? DEFAULT_IMAGE_TAG;
  const baseImage = options.baseImage ?? DEFAULT_BASE_IMAGE;
  const contextDir = options.context ?? DEFAULT_BUILD_CONTEXT;
  const engine = await connectDocker(options.docker);
  const endpoint = describeEngineAddress(await engineAddress(engine));
  const report = options.onProgress ?? (() => undefined);

  try {
    await engine.ping();
  } catch (error) {
    throw dockerError(error, { action: `build ${tag}`, endpoint, phase: 'engine' });
  }
  const baseLocal = await imageExists(engine, baseImage, endpoint);

  let context: BuildContext;
  try {
    const listing: Parameters<typeof listBuildContext>[0] = { contextDir, dockerfile: options.dockerfile ?? DEFAULT_DOCKERFILE };
    if (options.productionNodeModulesOnly !== undefined) listing.productionNodeModulesOnly = options.productionNodeModulesOnly;
    if (options.omitPackages !== undefined) listing.omitPackages = options.omitPackages;
    context = await listBuildContext(listing);
  } catch (error) {
    const why = error instanceof MissingDependencyError ? error.message : `${(error as Error).message}`;
    throw new ImageBuildError(`Cannot make the build context of ${contextDir}: ${why}`, { cause: error });
  }

  const totalBytes = tarSize(context);
  let sentBytes = 0;
  report({ type: 'context', sentBytes, totalBytes, fileCount: context.fileCount });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sentBytes += chunk.length;
      report({ type: 'context', sentBytes: Math.min(sentBytes, totalBytes), totalBytes, fileCount: context.fileCount });
      callback(null, chunk);
    },
  });
  const tarStream = packBuildContext(context);
  tarStream.on('error', (error) => counter.destroy(error));
  tarStream.pipe(counter);

  const timeoutMs = options.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  const onAbort = (): void => controller.abort(options.signal?.reason ?? new Error('aborted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  const lines: string[] = [];
  let imageId: string | undefined;
  let totalSteps = 0;
  let cachedSteps = 0;
  try {
    const response = await engine.buildImage(counter, {
      t: tag,
      dockerfile: context.dockerfile,
      buildargs: { BASE_IMAGE: baseImage, ...options.buildArgs },
      labels: { ...options.labels },
      pull: !baseLocal,
      nocache: options.noCache ?? false,
      rm: true,
      forcerm: true,
      abortSignal: controller.signal,
    });
    for await (const message of buildMessages(response)) {
      if (message.error !== undefined || message.errorDetail !== undefined) {
        const text = message.errorDetail?.message ?? message.error ?? 'unknown error';
        throw new ImageBuildError(buildFailure(tag, text, baseImage, baseLocal, lines), { logs: lines.slice(-ERROR_TAIL_LINES).join('\n') });
      }
      if (message.aux?.ID !== undefined) imageId = message.aux.ID;
      const text = message.stream ?? (message.status === undefined ? undefined : `${message.id === undefined ? '' : `${message.id}: `}${message.status}`);
      if (text === undefined) continue;
      for (const line of text.split('\n')) {
        const trimmed = line.trimEnd();
        if (trimmed === '') continue;
        lines.push(trimmed);
        if (lines.length > 4 * ERROR_TAIL_LINES) lines.splice(0, lines.length - 2 * ERROR_TAIL_LINES);
        const step = /^Step (\d+)\/(\d+) : (.*)$/.exec(trimmed);
        if (step !== null) {
          totalSteps = Number(step[2]);
          report({ type: 'step', step: Number(step[1]), totalSteps, instruction: step[3]! });
        } else {
          if (trimmed === ' ---> Using cache') cachedSteps += 1;
          report({ type: 'output', line: trimmed });
        }
      }
    }
  } catch (error) {
    if (error instanceof ImageBuildError) throw error;
    if (controller.signal.aborted) {
      const why = (controller.signal.reason as Error | undefined)?.message ?? 'aborted';
      throw new ImageBuildError(`Build of ${tag} stopped: ${why}.`, { cause: error, logs: lines.slice(-ERROR_TAIL_LINES).join('\n') });
    }
    const mapped = dockerError(error, { action: `build ${tag}`, endpoint, phase: 'engine' });
    if (mapped.code === 'DOCKER_UNAVAILABLE') throw mapped;
    throw new ImageBuildError(buildFailure(tag, engineMessage(error), baseImage, baseLocal, lines), {
      cause: error,
      logs: lines.slice(-ERROR_TAIL_LINES).join('\n'),
    });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    tarStream.destroy();
  }

  if (imageId === undefined) {
    try {
      imageId = (await engine.getImage(tag).inspect()).Id;
    } catch (error) {
      throw new ImageBuildError(`Build of ${tag} ended without an image (${engineMessage(error)}).`, {
        cause: error,
        logs: lines.slice(-ERROR_TAIL_LINES).join('\n'),
      });
    }
  }
  const durationMs = Math.round(performance.now() - started);
  report({ type: 'done', tag, imageId, durationMs, cachedSteps, totalSteps });
  return { tag, imageId, durationMs, pull: !baseLocal, cachedSteps, totalSteps, context };
}

/**
 * Whether the engine has `image` (`docker image inspect`).
 * @param endpoint where the engine is, for the message of a {@link DockerUnavailableError}
 * @throws {DockerUnavailableError} when no engine answers
 */
export async function imageExists(engine: DockerEngine, image: string, endpoint?: string): Promise<boolean> {
  try {
    await engine.getImage(image).inspect();
    return true;
  } catch (error) {
    if (engineStatus(error) === 404) return false;
    throw dockerError(error, endpoint === undefined ? { action: `inspect image ${image}`, phase: 'engine' } : { action: `inspect image ${image}`, endpoint, phase: 'engine' });
  }
}

/** The engine's JSON-lines build stream, one message at a time. */
async function* buildMessages(stream: NodeJS.ReadableStream): AsyncGenerator<BuildMessage> {
  let pending = '';
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield parseMessage(line);
    }
  }
  if (pending.trim() !== '') yield parseMessage(pending.trim());
}

function parseMessage(line: string): BuildMessage {
  try {
    return JSON.parse(line) as BuildMessage;
  } catch {
    return { stream: line };
  }
}

function buildFailure(tag: string, why: string, baseImage: string, baseLocal: boolean, lines: readonly string[]): string {
  const hint =
    !baseLocal && /pull|registry|dial tcp|lookup|manifest|not found|no such host/i.test(why)
      ? ` The base image ${baseImage} is not in the engine and could not be pulled; build the offline base ` +
        '(`make base-image`) or pass --base-image with an image the engine has.'
      : '';
  const tail = lines.slice(-ERROR_TAIL_LINES).join('\n');
  return `Build of ${tag} failed: ${why.trim()}.${hint}${tail === '' ? '' : `\nLast build output:\n${tail}`}`;
}
