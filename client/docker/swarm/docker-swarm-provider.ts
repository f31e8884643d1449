import { randomBytes } from 'node:crypto';
import {
  ContainerStartError,
  DEFAULT_CONTAINER_PORT,
  DEFAULT_HEALTH_TIMEOUT_MS,
  MANAGED_LABEL,
  OWNER_LABEL,
  ownerGone,
  ownerLabelValue,
  serverToken,
  StartLimiter,
  waitUntilHealthy,
  withLogs,
  DEFAULT_LOG_TAIL_LINES,
  type CleanupOptions,
  type ContainerLimits,
  type ContainerProvider,
  type ContainerSpec,
} from '../../provider/index.js';
import {
  connectDocker,
  DEFAULT_CONTAINER_USER,
  DEFAULT_STOP_TIMEOUT_S,
  describeEngineAddress,
  dockerError,
  engineAddress,
  resolveLimits,
  trackContainer,
  type DockerEngine,
  type EngineAddress,
} from '../run/index.js';
import { applianceServiceSpec } from './appliance-service-spec.js';
import { publishedPort, serviceLogs, serviceTasks, taskState, waitForTask } from './service-tasks.js';
import { DEFAULT_REMOVE_TIMEOUT_MS, removeService, SwarmAppliance } from './swarm-appliance.js';

/** The image a {@link DockerSwarmProvider} starts when none is given. @default 'envbox/appliance:latest' */
export const DEFAULT_SWARM_IMAGE = 'envbox/appliance:latest';
/** How many appliances a {@link DockerSwarmProvider} starts at once. @default 4 */
export const DEFAULT_MAX_CONCURRENT_STARTS = 4;
/** How long a service's task gets to be scheduled and run. Starting many at once on a small machine is slow. @default 60 s */
export const DEFAULT_SCHEDULE_TIMEOUT_MS = 60_000;
/** The label naming the provider kind on every service. */
export const PROVIDER_LABEL = 'envbox.provider';

/** Options of a {@link DockerSwarmProvider}; every one has a default, so `new DockerSwarmProvider({})` works. */
export interface DockerSwarmProviderOptions extends ContainerLimits {
  /** A swarm manager's engine. @default the one `DOCKER_HOST` names, else the local socket */
  docker?: DockerEngine;
  /** The image of `start()` without one; resolved to its ID on the manager's engine. @default {@link DEFAULT_SWARM_IMAGE} */
  image?: string;
  /** Placement constraints of every service, e.g. `['node.role==worker', 'node.labels.gpu!=true']`. @default none */
  constraints?: readonly string[];
  /** Labels of every service and its containers (`MANAGED_LABEL` and `OWNER_LABEL` are always set). */
  labels?: Readonly<Record<string, string>>;
  /**
   * Run every appliance with `ENVBOX_REQUIRE_ISOLATION=true`, so that on a node without the
   * namespaces seccomp profile as a daemon default the appliance refuses to start and the start
   * fails with its log, rather than running episodes without namespaces. @default true
   */
  requireIsolation?: boolean;
  /** How many starts run at once. @default {@link DEFAULT_MAX_CONCURRENT_STARTS} */
  maxConcurrentStarts?: number;
  /** How long a task gets to be scheduled and running. @default {@link DEFAULT_SCHEDULE_TIMEOUT_MS} */
  scheduleTimeoutMs?: number;
  /** How long `close()` waits for a removed service's task to be gone. @default {@link DEFAULT_REMOVE_TIMEOUT_MS} */
  removeTimeoutMs?: number;
}

/** Options of one start: a {@link ContainerSpec} whose image defaults to the provider's. */
export type SwarmStartOptions = Omit<ContainerSpec, 'image'> & { image?: string };

interface Manager {
  engine: DockerEngine;
  address: EngineAddress;
  endpoint: string;
}

/**
 * Starts envbox appliances as Docker Swarm services: one one-replica service per appliance, its
 * port published in host mode on the node that runs it (no ingress: no IPVS here), hardened as far
 * as Swarm's API carries it ({@link applianceServiceSpec}), created from the image ID with no
 * registry lookup (every node must have the image: `docker save | docker load`), with a token
 * always, and returned once `GET /health` answers healthy. Starts beyond `maxConcurrentStarts`
 * wait their turn. `close()` removes every service it started, and so do the process's exit
 * handlers (`exit-cleanup.ts`) if it ends first; `cleanup()` removes leftovers by `MANAGED_LABEL`.
 *
 * @example
 * await using provider = new DockerSwarmProvider({ constraints: ['node.role==worker'] });
 * const appliance = await provider.start();
 * const env = new CodingEnv({ baseUrl: appliance.baseUrl, token: appliance.token });
 */
export class DockerSwarmProvider implements ContainerProvider<SwarmAppliance> {
  readonly #options: DockerSwarmProviderOptions;
  readonly #limiter: StartLimiter;
  readonly #appliances = new Set<SwarmAppliance>();
  readonly #imageIds = new Map<string, Promise<{ id: string; cmd: string[] }>>();
  #manager: Promise<Manager> | undefined;
  #closed = false;

  /** @throws {ContainerStartError} when an option is invalid (named, with what came) */
  constructor(options: DockerSwarmProviderOptions = {}) {
    for (const name of ['maxConcurrentStarts', 'scheduleTimeoutMs', 'removeTimeoutMs'] as const) {
      const value = options[name];
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new ContainerStartError(`Invalid ${name}: expected a positive integer, received ${String(value)}.`);
      }
    }
    for (const constraint of options.constraints ?? []) {
      if (typeof constraint !== 'string' || !/^[\w.\-]+\s*(==|!=)\s*\S+$/.test(constraint)) {
        throw new ContainerStartError(`Invalid constraint: expected "<attribute>==<value>" or "<attribute>!=<value>" (e.g. node.role==worker), received ${JSON.stringify(constraint)}.`);
      }
    }
    resolveLimits(options);
    this.#options = options;
    this.#limiter = new StartLimiter(options.maxConcurrentStarts ?? DEFAULT_MAX_CONCURRENT_STARTS);
  }

  /** The image `start()` runs when the spec names none. */
  get defaultImage(): string {
    return this.#options.image ?? DEFAULT_SWARM_IMAGE;
  }

  /** The appliances started by this provider and not yet closed. */
  get appliances(): readonly SwarmAppliance[] {
    return [...this.#appliances];
  }

  /**
   * Start one appliance service (`spec.image` or the provider's image) and wait until its server
   * answers healthy. Waits for a start slot first (`maxConcurrentStarts`).
   * @throws {DockerUnavailableError} when the manager does not answer
   * @throws {ImageNotFoundError} when the manager's engine does not have the image
   * @throws {ContainerStartError} when the engine is no swarm manager, the service cannot be
   *   created, its task is not running within `scheduleTimeoutMs` (with Swarm's reason), or it
   *   exits before it is healthy (e.g. `--require-isolation` refused a node without the namespaces
   *   profile; the message ends with its log)
   * @throws {HealthTimeoutError} when it runs but is not healthy within `healthTimeoutMs`
   */
  async start(spec: SwarmStartOptions = {}): Promise<SwarmAppliance> {
    const queued = performance.now();
    if (this.#closed) throw new ContainerStartError('This DockerSwarmProvider is closed; create a new one.');
    const image = spec.image ?? this.defaultImage;
    if (spec.token === false) {
      throw new ContainerStartError('Invalid token: expected a string or undefined, received false; a Swarm appliance always has a token (its host-mode port listens on every interface of its node).');
    }
    const user = spec.user ?? DEFAULT_CONTAINER_USER;
    if (/^(0|root)(:|$)/.test(user)) {
      throw new ContainerStartError(`Invalid user: expected a non-root user such as ${DEFAULT_CONTAINER_USER}, received ${JSON.stringify(user)}.`);
    }
    const limits = resolveLimits({ ...this.#options, ...spec.limits });
    const token = serverToken(spec.token) as string;
    return this.#limiter.run(async () => {
      if (spec.signal?.aborted === true) throw new ContainerStartError(`Start of ${image} was aborted before it began.`, { cause: spec.signal.reason });
      if (this.#closed) throw new ContainerStartError('This DockerSwarmProvider was closed while this start waited for a slot.');
      return this.#start(spec, { image, user, limits, token, queued });
    });
  }

  async #start(
    spec: SwarmStartOptions,
    facts: { image: string; user: string; limits: Required<ContainerLimits>; token: string; queued: number },
  ): Promise<SwarmAppliance> {
    const { image, token } = facts;
    const begun = performance.now();
    const { engine, address, endpoint } = await this.#connect();
    const { id: imageId, cmd } = await this.#resolveImage(engine, endpoint, image);
    const containerPort = spec.containerPort ?? DEFAULT_CONTAINER_PORT;
    const env: Record<string, string> = { ...spec.env, ENVBOX_TOKEN: token };
    if (this.#options.requireIsolation !== false) env.ENVBOX_REQUIRE_ISOLATION = 'true';
    const name = spec.name ?? `envbox-${randomBytes(6).toString('hex')}`;
    const labels = { ...this.#options.labels, ...spec.labels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: ownerLabelValue(), [PROVIDER_LABEL]: 'swarm' };
    const serviceSpec = applianceServiceSpec({
      name,
      imageId,
      args: spec.command ?? cmd,
      env,
      labels,
      user: facts.user,
      containerPort,
      limits: facts.limits,
      constraints: [...(this.#options.constraints ?? []), ...(await this.#avoiding(engine, spec.replaces))],
      stopTimeoutS: spec.stopTimeoutS ?? DEFAULT_STOP_TIMEOUT_S,
    });

    let serviceId: string;
    try {
      serviceId = (await engine.createService(serviceSpec)).id;
    } catch (error) {
      const mapped = dockerError(error, { action: `create a Swarm service of ${image}`, image, endpoint });
      if (/not a swarm manager|swarm mode/i.test(mapped.message)) {
        throw new ContainerStartError(
          `${mapped.message.replace(/\.$/, '')}; DockerSwarmProvider needs a swarm manager: run \`make swarm-up\` (or docker swarm init) or point DOCKER_HOST at a manager.`,
          { cause: error },
        );
      }
      throw mapped;
    }
    const created = performance.now();
    // Removed when this process ends, however it ends (but SIGKILL: cleanup() finds those by label).
    trackContainer({ id: serviceId, address, kind: 'service' });
    const removeTimeoutMs = this.#options.removeTimeoutMs ?? DEFAULT_REMOVE_TIMEOUT_MS;
    const short = serviceId.slice(0, 12);
    const fail = async (error: Error): Promise<never> => {
      await removeService(engine, serviceId, endpoint, removeTimeoutMs).catch(() => undefined);
      throw error;
    };

    const scheduleTimeoutMs = this.#options.scheduleTimeoutMs ?? DEFAULT_SCHEDULE_TIMEOUT_MS;
    let scheduled: Awaited<ReturnType<typeof waitForTask<number>>>;
    try {
      const waitOptions: { timeoutMs: number; signal?: AbortSignal } = { timeoutMs: scheduleTimeoutMs };
      if (spec.signal !== undefined) waitOptions.signal = spec.signal;
      scheduled = await waitForTask(engine, serviceId, (task) => (task.Status?.State === 'running' ? publishedPort(task, containerPort) : undefined), waitOptions);
    } catch (error) {
      return fail(dockerError(error, { action: `read the task of service ${short}`, endpoint, containerId: serviceId }));
    }
    if (!('value' in scheduled)) {
      const logs = await serviceLogs(engine, serviceId, 40);
      const task = 'ended' in scheduled ? scheduled.ended : scheduled.timedOut;
      const state = taskState(task);
      const why =
        'ended' in scheduled
          ? `its task ended (${state.status}${state.exitCode === null ? '' : `, exit code ${state.exitCode}`}${task?.Status?.Err ? `: ${task.Status.Err}` : ''})`
          : spec.signal?.aborted === true
            ? 'the start was aborted'
            : `its task was not running within ${scheduleTimeoutMs} ms (last state: ${task?.Status?.State ?? 'no task'}${task?.Status?.Err ? `, ${task.Status.Err}` : task?.Status?.Message ? `, ${task.Status.Message}` : ''}); check \`docker node ls\` and the constraints`;
      return fail(new ContainerStartError(withLogs(`Swarm service ${short} of ${image} did not start: ${why}`, logs), { containerId: serviceId, logs }));
    }
    const running = performance.now();
    const { value: hostPort, task } = scheduled;

    let node: { id: string; name: string; address: string };
    try {
      const info = (await engine.getNode(task.NodeID ?? '').inspect()) as { ID: string; Description?: { Hostname?: string }; Status?: { Addr?: string } };
      node = { id: info.ID, name: info.Description?.Hostname ?? info.ID, address: info.Status?.Addr ?? '' };
      if (node.address === '' || node.address === '0.0.0.0') throw new Error(`node ${node.name} reports no address (${String(info.Status?.Addr)})`);
    } catch (error) {
      return fail(dockerError(error, { action: `find the node of service ${short}`, endpoint, containerId: serviceId }));
    }

    const baseUrl = `http://${node.address.includes(':') ? `[${node.address}]` : node.address}:${hostPort}`;
    try {
      const waitOptions: { timeoutMs: number; signal?: AbortSignal } = { timeoutMs: spec.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS };
      if (spec.signal !== undefined) waitOptions.signal = spec.signal;
      const starting = {
        id: serviceId,
        image,
        baseUrl,
        token,
        logs: (tailLines?: number) => serviceLogs(engine, serviceId, tailLines ?? DEFAULT_LOG_TAIL_LINES),
        state: async () => taskState((await serviceTasks(engine, serviceId).catch(() => [undefined]))[0]),
      };
      await waitUntilHealthy(starting, waitOptions);
    } catch (error) {
      return fail(error as Error);
    }
    const done = performance.now();
    const appliance = new SwarmAppliance({
      engine,
      serviceId,
      serviceName: name,
      image,
      imageId,
      nodeId: node.id,
      nodeName: node.name,
      nodeAddress: node.address,
      hostPort,
      token,
      timings: {
        queuedMs: Math.round(begun - facts.queued),
        createMs: Math.round(created - begun),
        scheduledMs: Math.round(running - created),
        healthyMs: Math.round(done - running),
        totalMs: Math.round(done - facts.queued),
      },
      endpoint,
      removeTimeoutMs,
      onClosed: (closed) => this.#appliances.delete(closed),
    });
    this.#appliances.add(appliance);
    if (this.#closed) {
      await appliance.close().catch(() => undefined);
      throw new ContainerStartError('This DockerSwarmProvider was closed while the appliance started; it was removed.');
    }
    return appliance;
  }

  /**
   * Remove leftover envbox services, found by `MANAGED_LABEL`: those whose owner process (on this
   * host) is gone, and those that name no owner. With `all`, every envbox service. Waits until
   * their tasks are gone.
   * @returns the service ids removed
   * @throws {DockerUnavailableError} when the manager does not answer
   * @throws {DockerEngineError} when it refuses to list or remove them
   */
  async cleanup(options: CleanupOptions = {}): Promise<string[]> {
    const { engine, endpoint } = await this.#connect();
    let services: Array<{ ID: string; Spec?: { Labels?: Record<string, string> } }>;
    try {
      services = (await engine.listServices({ filters: { label: [`${MANAGED_LABEL}=true`] } })) as unknown as typeof services;
    } catch (error) {
      throw dockerError(error, { action: 'list envbox services', endpoint, phase: 'engine' });
    }
    const leftovers = services.filter((service) => {
      if (options.all === true) return true;
      const owner = service.Spec?.Labels?.[OWNER_LABEL];
      return owner === undefined || ownerGone(owner);
    });
    const removeTimeoutMs = this.#options.removeTimeoutMs ?? DEFAULT_REMOVE_TIMEOUT_MS;
    const results = await Promise.allSettled(leftovers.map((service) => removeService(engine, service.ID, endpoint, removeTimeoutMs)));
    for (const appliance of this.#appliances) if (leftovers.some((service) => service.ID === appliance.id)) void appliance.close().catch(() => undefined);
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    return leftovers.map((service) => service.ID);
  }

  /** Remove every service this provider started (waiting until their tasks are gone) and refuse new starts. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const results = await Promise.allSettled([...this.#appliances].map((appliance) => appliance.close()));
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #connect(): Promise<Manager> {
    this.#manager ??= (async () => {
      const engine = await connectDocker(this.#options.docker);
      const address = await engineAddress(engine);
      return { engine, address, endpoint: describeEngineAddress(address) };
    })();
    return this.#manager;
  }

  /**
   * The constraint that keeps a replacement off the node of the dead appliance it replaces
   * (`node.id!=<its node>`), while another ready, active node meets the provider's constraints:
   * that node's engine may be going down yet still listed as ready, and the spread strategy
   * favours it (it has just lost a task). None when the dead one is no swarm appliance or no other
   * node could take it (the task would wait for a node forever).
   */
  async #avoiding(engine: DockerEngine, replaces: ContainerSpec['replaces']): Promise<string[]> {
    const node = replaces instanceof SwarmAppliance ? replaces.node.id : undefined;
    if (node === undefined) return [];
    const nodes = (await engine.listNodes().catch(() => [])) as SwarmNode[];
    const constraints = this.#options.constraints ?? [];
    const others = nodes.filter(
      (other) => other.ID !== node && other.Status?.State === 'ready' && other.Spec?.Availability === 'active' && constraints.every((c) => meets(other, c)),
    );
    return others.length > 0 ? [`node.id!=${node}`] : [];
  }

  /** The image's ID and CMD on the manager's engine, asked once per image. */
  #resolveImage(engine: DockerEngine, endpoint: string, image: string): Promise<{ id: string; cmd: string[] }> {
    let resolved = this.#imageIds.get(image);
    if (resolved === undefined) {
      resolved = (async () => {
        try {
          const info = await engine.getImage(image).inspect();
          return { id: info.Id, cmd: info.Config.Cmd ?? [] };
        } catch (error) {
          throw dockerError(error, { action: `find image ${image} on the swarm manager`, image, endpoint });
        }
      })();
      // A failure is not remembered: the image may be built or loaded before the next start.
      resolved.catch(() => this.#imageIds.delete(image));
      this.#imageIds.set(image, resolved);
    }
    return resolved;
  }
}

/** What {@link meets} reads of a node (`GET /nodes`). */
interface SwarmNode {
  ID: string;
  Status?: { State?: string };
  Spec?: { Availability?: string; Role?: string; Labels?: Record<string, string> };
  Description?: { Hostname?: string; Platform?: { OS?: string; Architecture?: string }; Engine?: { Labels?: Record<string, string> } };
}

/**
 * Whether `node` meets a placement constraint (`<attribute>==<value>` or `!=`), for the attributes
 * Swarm documents: node.id, node.hostname, node.role, node.platform.os|arch, node.labels.*,
 * engine.labels.*. An attribute it does not know counts as met: the scheduler has the last word.
 */
function meets(node: SwarmNode, constraint: string): boolean {
  const match = /^([\w.\-]+)\s*(==|!=)\s*(\S+)$/.exec(constraint);
  if (match === null) return true;
  const [, attribute = '', operator, expected = ''] = match;
  const label = (prefix: string, labels: Record<string, string> | undefined): string | undefined =>
    attribute.startsWith(prefix) ? labels?.[attribute.slice(prefix.length)] : undefined;
  const known: Record<string, string | undefined> = {
    'node.id': node.ID,
    'node.hostname': node.Description?.Hostname,
    'node.role': node.Spec?.Role,
    'node.platform.os': node.Description?.Platform?.OS,
    'node.platform.arch': node.Description?.Platform?.Architecture,
  };
  let value: string | undefined;
  if (attribute in known) value = known[attribute];
  else if (attribute.startsWith('node.labels.')) value = label('node.labels.', node.Spec?.Labels);
  else if (attribute.startsWith('engine.labels.')) value = label('engine.labels.', node.Description?.Engine?.Labels);
  else return true;
  const equal = value !== undefined && value.toLowerCase() === expected.toLowerCase();
  return operator === '==' ? equal : !equal;
}
