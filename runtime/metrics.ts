import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRICS_PREFIX, type AnyEnvDefinition } from '../protocol/index.js';
import type { Observation } from '../protocol/index.js';
import type { SessionManager } from './session-manager.js';


/** Path of the Prometheus endpoint. */
export const METRICS_PATH = '/metrics';

/** Buckets of `envbox_step_duration_seconds`, in seconds: from 100 µs (echo) to 30 s (a long guest step). */
export const STEP_DURATION_BUCKETS_S: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** The `exit_code` label of a step whose observation has no numeric `exit_code` (e.g. echo_env). */
export const NO_EXIT_CODE_LABEL = 'none';

/**
 * One app's Prometheus metrics, in a registry of its own (never prom-client's global one, so that
 * several apps in one process count apart): sessions, resets, steps by exit code, step latency,
 * error replies by code, the process's default metrics and whatever the definition's
 * `metrics(registry)` hook adds. Recording a step is one counter increment and one histogram observation.
 */
export class AppMetrics {
  /** The registry `GET /metrics` serves. */
  readonly registry: Registry;
  readonly #steps: Counter<'exit_code'>;
  readonly #stepDuration: Histogram;
  readonly #resets: Counter;
  readonly #errors: Counter<'code'>;

  constructor(definition: AnyEnvDefinition, sessions: SessionManager) {
    const registry = new Registry();
    this.registry = registry;
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
    new Gauge({
      name: `${METRICS_PREFIX}sessions`,
      help: 'Sessions open now.',
      registers: [registry],
      collect() {
        this.set(sessions.size);
      },
    });
    const opened = new Counter({ name: `${METRICS_PREFIX}sessions_opened_total`, help: 'Sessions opened.', registers: [registry] });
    const closed = new Counter({
      name: `${METRICS_PREFIX}sessions_closed_total`,
      help: 'Sessions closed, by reason (client, idle, disconnect, shutdown).',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    sessions.on('session-opened', () => opened.inc());
    sessions.on('session-closed', (_session, reason) => closed.inc({ reason }));
    this.#steps = new Counter({
      name: `${METRICS_PREFIX}steps_total`,
      help: `Steps answered, by the observation's exit_code ("${NO_EXIT_CODE_LABEL}" when it has none).`,
      labelNames: ['exit_code'] as const,
      registers: [registry],
    });
    this.#stepDuration = new Histogram({
      name: `${METRICS_PREFIX}step_duration_seconds`,
      help: 'Latency of answered steps as the server measured it (validation to observation), in seconds.',
      buckets: [...STEP_DURATION_BUCKETS_S],
      registers: [registry],
    });
    this.#resets = new Counter({ name: `${METRICS_PREFIX}resets_total`, help: 'Resets answered.', registers: [registry] });
    this.#errors = new Counter({
      name: `${METRICS_PREFIX}errors_total`,
      help: 'Error replies (HTTP and WebSocket), by error code.',
      labelNames: ['code'] as const,
      registers: [registry],
    });
    definition.metrics?.(registry);
  }

  /** Count an answered step. @param durationS the server-side latency in seconds */
  recordStep(observation: Observation, durationS: number): void {
    const exitCode = (observation as { exit_code?: unknown }).exit_code;
    this.#steps.inc({ exit_code: typeof exitCode === 'number' ? String(exitCode) : NO_EXIT_CODE_LABEL });
    this.#stepDuration.observe(durationS);
  }

  /** Count an answered reset. */
  recordReset(): void {
    this.#resets.inc();
  }

  /** Count an error reply with this wire code, e.g. `INVALID_REQUEST`. */
  recordError(code: string): void {
    this.#errors.inc({ code });
  }

  /** The exposition text, in {@link AppMetrics.contentType}. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /** `text/plain; version=0.0.4; charset=utf-8`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
