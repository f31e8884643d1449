import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostConfig } from 'dockerode';
import { ContainerStartError, type ContainerLimits } from '../../provider/index.js';
import { PACKAGE_ROOT } from '../package-root.js';

/**
 * The one hardened HostConfig every container of {@link LocalDockerProvider} runs with. Each
 * setting is the outermost security layer of DESIGN.md, and each is verified from inside a
 * running appliance by test/client/docker/run/local-docker-provider.test.ts.
 */

/**
 * The seccomp profile the appliance runs under: Docker's default profile plus the namespace calls
 * bubblewrap needs for per-episode namespaces. Shipped in the npm package (package.json `files`
 * must list `images/seccomp.json`).
 */
export const SECCOMP_PROFILE_PATH: string = join(PACKAGE_ROOT, 'images', 'seccomp.json');

/** The user the appliance runs as: the image's non-root `envbox` user. @default '10001:10001' */
export const DEFAULT_CONTAINER_USER = '10001:10001';
/** Memory cap of a container, also its memory+swap cap (no swap). @default 1 GiB */
export const DEFAULT_MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024;
/** Cap on the tasks (processes and threads) of a container. @default 512 */
export const DEFAULT_PIDS_LIMIT = 512;
/** CPUs a container may use (fractions allowed). @default 1 */
export const DEFAULT_CPUS = 1;
/** Size cap of the container's `/tmp` tmpfs (counted in its memory). @default 64 MiB */
export const DEFAULT_TMP_SIZE_BYTES = 64 * 1024 * 1024;
/** Size cap of the container's log file (json-file driver). @default 10 MiB */
export const DEFAULT_LOG_SIZE_BYTES = 10 * 1024 * 1024;

/**
 * The limits and runtime of a hardened container. Every field has a named default: memory
 * {@link DEFAULT_MEMORY_LIMIT_BYTES} (swap disabled: `MemorySwap` = `Memory`), tasks
 * {@link DEFAULT_PIDS_LIMIT}, CPUs {@link DEFAULT_CPUS}, `/tmp` {@link DEFAULT_TMP_SIZE_BYTES}.
 */
export interface HardeningOptions extends ContainerLimits {
  /**
   * The OCI runtime: `runsc` runs the container under gVisor (it must be registered with the
   * engine, with `"runtimeArgs": ["--network=host"]` here). @default the engine's default (runc)
   */
  runtime?: 'runsc' | (string & {});
  /** A seccomp profile file (JSON). @default {@link SECCOMP_PROFILE_PATH} */
  seccompProfilePath?: string;
}

/** Hardening options with every default filled in; what {@link hardenedHostConfig} takes. */
export interface ResolvedHardening {
  memoryLimitBytes: number;
  pidsLimit: number;
  cpus: number;
  tmpSizeBytes: number;
  runtime: string | undefined;
  /** The profile's JSON text. */
  seccompProfile: string;
}

/**
 * Fill in the defaults and read the seccomp profile.
 * @throws {ContainerStartError} when the profile is missing or not JSON, or a limit is not a positive number
 */
export function resolveHardening(options: HardeningOptions = {}): ResolvedHardening {
  return { ...resolveLimits(options), runtime: options.runtime, seccompProfile: loadSeccompProfile(options.seccompProfilePath) };
}

/**
 * The limits of `options` with every default filled in.
 * @throws {ContainerStartError} when a limit is not a positive number (an integer but for `cpus`)
 */
export function resolveLimits(options: ContainerLimits): Required<ContainerLimits> {
  const resolved = {
    memoryLimitBytes: options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES,
    pidsLimit: options.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    cpus: options.cpus ?? DEFAULT_CPUS,
    tmpSizeBytes: options.tmpSizeBytes ?? DEFAULT_TMP_SIZE_BYTES,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value <= 0 || (name !== 'cpus' && !Number.isInteger(value))) {
      throw new ContainerStartError(`Invalid ${name}: expected a positive ${name === 'cpus' ? 'number' : 'integer'}, received ${String(value)}.`);
    }
  }
  return resolved;
}

/**
 * Read a seccomp profile and return it as compact JSON, the form `SecurityOpt` `seccomp=<json>`
 * takes (the API wants the profile itself, not a path: the docker CLI reads the file the same way).
 * @throws {ContainerStartError} when the file is missing or is not a JSON object
 */
export function loadSeccompProfile(path: string = SECCOMP_PROFILE_PATH): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ContainerStartError(
      `Seccomp profile ${path} cannot be read (${(error as Error).message}); it ships with envbox as images/seccomp.json: reinstall the package or pass seccompProfilePath.`,
      { cause: error },
    );
  }
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch (error) {
    throw new ContainerStartError(`Seccomp profile ${path} is not JSON (${(error as Error).message}).`, { cause: error });
  }
  if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) {
    throw new ContainerStartError(`Seccomp profile ${path} must be a JSON object with defaultAction and syscalls.`);
  }
  return JSON.stringify(profile);
}

/**
 * The hardened HostConfig: read-only root filesystem, a small `noexec,nosuid,nodev` tmpfs on
 * `/tmp`, every capability dropped, `no-new-privileges`, the seccomp profile, pids/memory/CPU
 * caps without swap, an init process (so SIGTERM reaches the server and zombies are reaped),
 * a private IPC namespace, a capped log, and `containerPort` published on `bindIp` (127.0.0.1 only
 * unless a remote engine needs `0.0.0.0`), on a
 * host port the engine picks.
 */
export function hardenedHostConfig(hardening: ResolvedHardening, containerPort: number, bindIp = '127.0.0.1'): HostConfig {
  const config: HostConfig = {
    ReadonlyRootfs: true,
    Tmpfs: { '/tmp': `rw,noexec,nosuid,nodev,size=${hardening.tmpSizeBytes}` },
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges:true', `seccomp=${hardening.seccompProfile}`],
    Privileged: false,
    PidsLimit: hardening.pidsLimit,
    Memory: hardening.memoryLimitBytes,
    MemorySwap: hardening.memoryLimitBytes,
    NanoCpus: Math.round(hardening.cpus * 1e9),
    Init: true,
    IpcMode: 'private',
    RestartPolicy: { Name: 'no' },
    // Kept until close() removes it, so that a failed start can still show its logs.
    AutoRemove: false,
    LogConfig: { Type: 'json-file', Config: { 'max-size': String(DEFAULT_LOG_SIZE_BYTES), 'max-file': '1' } },
    PortBindings: { [`${containerPort}/tcp`]: [{ HostIp: bindIp, HostPort: '' }] },
  };
  if (hardening.runtime !== undefined) config.Runtime = hardening.runtime;
  return config;
}
