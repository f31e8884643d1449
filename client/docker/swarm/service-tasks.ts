import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerState } from '../../provider/index.js';
import { demultiplex, type DockerEngine } from '../run/index.js';

/**
 * Reading a one-replica service's task from the manager: where it runs, its published port, its
 * state, its logs. Swarm emits no task events on API 1.41, so waiting for a task is polling with a
 * deadline (external state, nothing else to wait on).
 */

/** How often a task's state is asked while waiting for it. @default 100 ms */
export const TASK_POLL_INTERVAL_MS = 100;

/** Task states after which the task's container no longer runs (Swarm's TaskState). */
const ENDED_STATES = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

/** The fields of a task (`GET /tasks`) envbox reads. */
export interface SwarmTask {
  ID: string;
  ServiceID?: string;
  NodeID?: string;
  CreatedAt?: string;
  DesiredState?: string;
  Status?: {
    State?: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: Array<{ TargetPort?: number; PublishedPort?: number; PublishMode?: string }> };
  };
}

/** The tasks of service `serviceId` (also after its removal), newest first. */
export async function serviceTasks(engine: DockerEngine, serviceId: string): Promise<SwarmTask[]> {
  // Not the `service` filter: once the service is removed it answers 404 while the manager still
  // lists the service's tasks (until their nodes confirm the containers are gone).
  const tasks = ((await engine.listTasks()) as SwarmTask[]).filter((task) => task.ServiceID === serviceId);
  return tasks.sort((a, b) => String(b.CreatedAt ?? '').localeCompare(String(a.CreatedAt ?? '')));
}

/** Whether `task` has ended (its container no longer runs). */
export function taskEnded(task: SwarmTask): boolean {
  return ENDED_STATES.has(task.Status?.State ?? '');
}

/** A task's state as a {@link ContainerState}: running, or how it ended (exit code, Swarm's error). */
export function taskState(task: SwarmTask | undefined): ContainerState {
  if (task === undefined) return { running: false, status: 'removed', exitCode: null };
  const status = task.Status?.State ?? 'unknown';
  const ended = taskEnded(task);
  const state: ContainerState = {
    running: !ended,
    status,
    exitCode: ended && task.Status?.ContainerStatus?.ExitCode !== undefined ? task.Status.ContainerStatus.ExitCode : null,
  };
  const err = task.Status?.Err;
  if (ended && err !== undefined && err !== '') state.notes = [err];
  return state;
}

/** Where a running task publishes `containerPort` (host mode), if it does yet. */
export function publishedPort(task: SwarmTask, containerPort: number): number | undefined {
  const port = task.Status?.PortStatus?.Ports?.find((entry) => entry.TargetPort === containerPort && entry.PublishMode === 'host');
  return port?.PublishedPort;
}

/** Options of {@link waitForTask}. */
export interface WaitForTaskOptions {
  /** Give up after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Poll service `serviceId`'s tasks until `ready(task)` says yes for its newest task (the value),
 * or the task ends (`{ ended: task }`), or the deadline passes / the signal fires (`undefined`).
 */
export async function waitForTask<T>(
  engine: DockerEngine,
  serviceId: string,
  ready: (task: SwarmTask) => T | undefined,
  options: WaitForTaskOptions,
): Promise<{ value: T; task: SwarmTask } | { ended: SwarmTask } | { timedOut: SwarmTask | undefined }> {
  const deadline = performance.now() + options.timeoutMs;
  let last: SwarmTask | undefined;
  for (;;) {
    last = (await serviceTasks(engine, serviceId))[0];
    if (last !== undefined) {
      const value = ready(last);
      if (value !== undefined) return { value, task: last };
      if (taskEnded(last)) return { ended: last };
    }
    const pause = Math.min(TASK_POLL_INTERVAL_MS, deadline - performance.now());
    if (pause <= 0 || options.signal?.aborted === true) return { timedOut: last };
    try {
      await sleep(pause, undefined, options.signal === undefined ? {} : { signal: options.signal });
    } catch {
      return { timedOut: last };
    }
  }
}

/**
 * Poll until service `serviceId` has no task left (after its removal the manager keeps each task
 * until its node confirms the container is gone). Resolves false when the deadline passed first.
 */
export async function waitUntilNoTasks(engine: DockerEngine, serviceId: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await serviceTasks(engine, serviceId)).length === 0) return true;
    const pause = Math.min(TASK_POLL_INTERVAL_MS, deadline - performance.now());
    if (pause <= 0) return false;
    await sleep(pause);
  }
}

/** How long reading a service's logs may take before giving up. @default 5 s */
export const SERVICE_LOGS_TIMEOUT_MS = 5_000;

/**
 * The last `tailLines` lines service `serviceId` wrote (its tasks' stdout and stderr, through the
 * manager). Never throws: a note in place of logs when they cannot be read.
 */
export async function serviceLogs(engine: DockerEngine, serviceId: string, tailLines: number): Promise<string> {
  const signal = AbortSignal.timeout(SERVICE_LOGS_TIMEOUT_MS);
  try {
    const raw: unknown = await engine.getService(serviceId).logs({ stdout: true, stderr: true, follow: false, tail: tailLines, abortSignal: signal } as never);
    if (Buffer.isBuffer(raw)) return demultiplex(raw).trimEnd();
    const chunks: Buffer[] = [];
    for await (const chunk of raw as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    return demultiplex(Buffer.concat(chunks)).trimEnd();
  } catch (error) {
    return `(no logs: ${(error as Error).message})`;
  }
}
