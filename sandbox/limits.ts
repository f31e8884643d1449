/** Per-sandbox resource limits; `null` leaves a limit unset. */
export interface SandboxLimits {
  /** RLIMIT_AS: a memory bomb gets MemoryError and the state is kept. @default 1 GiB */
  addressSpaceBytes: number | null;
  /** RLIMIT_FSIZE: writing past it raises OSError(EFBIG). @default 64 MiB */
  fileSizeBytes: number | null;
  /** RLIMIT_NOFILE. @default 256 */
  openFiles: number | null;
  /** RLIMIT_NPROC (each sandbox has a uid of its own when the server runs as root). @default 64 */
  processes: number | null;
  /**
   * RLIMIT_CPU: CPU seconds over the whole episode, counted from the end of the sandbox's start-up
   * (which does not spend it); past it the sandbox is killed by the kernel (137). @default 600
   */
  cpuSeconds: number | null;
  /** Size of each private tmpfs under namespaces (`/tmp`, `/workspace`, `/dev/shm`). @default 64 MiB */
  tmpBytes: number;
}


/** The limits used when none are given. */
export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  addressSpaceBytes: 1024 * 1024 * 1024,
  fileSizeBytes: 64 * 1024 * 1024,
  openFiles: 256,
  processes: 64,
  cpuSeconds: 600,
  tmpBytes: 64 * 1024 * 1024,
});
