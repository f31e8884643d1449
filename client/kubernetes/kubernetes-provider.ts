import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
// Types only: the library is loaded on first use, so that importing envbox (envbox serve) never loads it.
import type { CoreV1Api, KubeConfig, NetworkingV1Api, V1Pod } from '@kubernetes/client-node';
import type { HealthResponse } from '../../protocol/index.js';
import {
  checkHealth,
  ContainerStartError,
  DEFAULT_CONTAINER_PORT,
  DEFAULT_LOG_TAIL_LINES,
  HealthTimeoutError,
  MANAGED_LABEL,
  OWNER_LABEL,
  ownerLabelValue,
  serverToken,
  type CleanupOptions,
  type Container,
  type ContainerLimits,
  type ContainerProvider,
  type ContainerSpec,
  type ContainerState,
  type HealthCheckOptions,
} from '../provider/index.js';
import { applianceManifests } from './appliance-manifests.js';

/** How long `start()` waits for the Pod to be ready. @default 120 s */
export const DEFAULT_K8S_READY_TIMEOUT_MS = 120_000;
/** How often `start()` and `close()` read the Pod while waiting. @default 500 ms */
const POLL_MS = 500;
/** The appliance's uid, as in its image. */
const APPLIANCE_UID = 10001;

/** Options of {@link KubernetesProvider}. */
export interface KubernetesProviderOptions {
  /** The cluster: a loaded KubeConfig. @default the default one (KUBECONFIG, ~/.kube/config, or in-cluster) */
  kubeConfig?: KubeConfig;
  /** @default 'default' */
  namespace?: string;
  /** The image appliances run. @default 'envbox/appliance:latest' */
  image?: string;
  /** The node's seccomp profile allowing the namespace calls, relative to the kubelet's seccomp root. @default 'envbox/seccomp.json' */
  seccompProfile?: string;
  /** e.g. `gvisor`. */
  runtimeClassName?: string;
  /** Labels on every object. */
  labels?: Readonly<Record<string, string>>;
  /** Reach appliances by the Service's cluster DNS name (inside the cluster) or by a port-forward. @default in-cluster when KUBERNETES_SERVICE_HOST is set */
  connect?: 'cluster-dns' | 'port-forward';
  readyTimeoutMs?: number;
}

// pidsLimit is not applied: a Pod has no pids limit of its own (the kubelet's podPidsLimit is per node).
const DEFAULT_LIMITS: Required<ContainerLimits> = { memoryLimitBytes: 1024 ** 3, pidsLimit: 512, cpus: 1, tmpSizeBytes: 64 * 1024 ** 2 };

/**
 * Appliances on Kubernetes: per appliance a Pod (securityContext equal to the hardened HostConfig),
 * a Service and a NetworkPolicy denying egress ({@link applianceManifests}); ready when its
 * readiness probe (`/health`) passes; reached by the Service's DNS name in the cluster, else by a
 * port-forward. `cleanup()` deletes by label; failures name the Pod's phase and reason.
 */
export class KubernetesProvider implements ContainerProvider<KubernetesAppliance> {
  readonly defaultImage: string;
  #kubeConfig: KubeConfig | undefined;
  #apis: Promise<{ core: CoreV1Api; networking: NetworkingV1Api; kubeConfig: KubeConfig }> | undefined;
  readonly #options: KubernetesProviderOptions;
  readonly #namespace: string;
  // A label value: letters, digits, - _ . only (the owner is host:pid).
  readonly #owner = ownerLabelValue().replace(/[^A-Za-z0-9_.-]/g, '-');
  readonly #started = new Set<KubernetesAppliance>();

  constructor(options: KubernetesProviderOptions = {}) {
    this.#options = options;
    this.#kubeConfig = options.kubeConfig;
    this.#namespace = options.namespace ?? 'default';
    this.defaultImage = options.image ?? 'envbox/appliance:latest';
  }

  /** The API clients, made on first use. */
  #api(): Promise<{ core: CoreV1Api; networking: NetworkingV1Api; kubeConfig: KubeConfig }> {
    this.#apis ??= import('@kubernetes/client-node').then((k8s) => {
      const kubeConfig = this.#kubeConfig ?? new k8s.KubeConfig();
      if (this.#kubeConfig === undefined) kubeConfig.loadFromDefault();
      this.#kubeConfig = kubeConfig;
      return { kubeConfig, core: kubeConfig.makeApiClient(k8s.CoreV1Api), networking: kubeConfig.makeApiClient(k8s.NetworkingV1Api) };
    });
    return this.#apis;
  }

  async start(spec: ContainerSpec): Promise<KubernetesAppliance> {
    const { core, networking, kubeConfig } = await this.#api();
    const name = spec.name ?? `envbox-${randomBytes(4).toString('hex')}`;
    const token = serverToken(spec.token) ?? serverToken(undefined)!;
    const port = spec.containerPort ?? DEFAULT_CONTAINER_PORT;
    const labels = { ...this.#options.labels, ...spec.labels, [MANAGED_LABEL]: 'true', [OWNER_LABEL]: this.#owner, 'envbox.appliance': name };
    const { pod, service, networkPolicy } = applianceManifests({
      name,
      namespace: this.#namespace,
      image: spec.image,
      args: [...(spec.command ?? [])],
      env: { ...spec.env, ENVBOX_TOKEN: token, ENVBOX_REQUIRE_ISOLATION: spec.env?.ENVBOX_REQUIRE_ISOLATION ?? 'true', ENVBOX_HOST: '0.0.0.0', ENVBOX_PORT: String(port) },
      labels,
      uid: APPLIANCE_UID,
      containerPort: port,
      limits: { ...DEFAULT_LIMITS, ...spec.limits },
      seccompProfile: this.#options.seccompProfile ?? 'envbox/seccomp.json',
      ...(this.#options.runtimeClassName === undefined ? {} : { runtimeClassName: this.#options.runtimeClassName }),
      stopTimeoutS: spec.stopTimeoutS ?? 5,
      ...(spec.replaces instanceof KubernetesAppliance && spec.replaces.nodeName !== undefined ? { avoidNode: spec.replaces.nodeName } : {}),
    });
    const namespace = this.#namespace;
    const remove = async (): Promise<void> => {
      await Promise.allSettled([
        core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }),
        core.deleteNamespacedService({ name, namespace }),
        networking.deleteNamespacedNetworkPolicy({ name, namespace }),
      ]);
    };
    let nodeName: string | undefined;
    try {
      await networking.createNamespacedNetworkPolicy({ namespace, body: networkPolicy.toJSON() as never });
      await core.createNamespacedService({ namespace, body: service.toJSON() as never });
      await core.createNamespacedPod({ namespace, body: pod.toJSON() as never });
      nodeName = await this.#waitReady(name, spec.healthTimeoutMs ?? this.#options.readyTimeoutMs ?? DEFAULT_K8S_READY_TIMEOUT_MS, spec.signal);
    } catch (error) {
      const logs = await this.#logs(name, DEFAULT_LOG_TAIL_LINES).catch(() => '');
      await remove();
      if (error instanceof ContainerStartError || error instanceof HealthTimeoutError) throw error;
      throw new ContainerStartError(`Cannot start appliance ${name} in namespace ${namespace}: ${(error as Error).message}${logs === '' ? '' : `. Its last log lines:\n${logs}`}`);
    }
    const inCluster = (this.#options.connect ?? (process.env.KUBERNETES_SERVICE_HOST === undefined ? 'port-forward' : 'cluster-dns')) === 'cluster-dns';
    const forward = inCluster ? undefined : await startPortForward(kubeConfig, namespace, name, port);
    const baseUrl = inCluster ? `http://${name}.${namespace}.svc:${port}` : `http://127.0.0.1:${forward!.port}`;
    const appliance = new KubernetesAppliance({
      name,
      image: spec.image,
      baseUrl,
      token,
      ...(nodeName === undefined ? {} : { nodeName }),
      state: () => this.#state(name),
      logs: (tail) => this.#logs(name, tail),
      close: async () => {
        await forward?.close();
        await remove();
        await this.#waitGone(name);
        this.#started.delete(appliance);
      },
    });
    this.#started.add(appliance);
    return appliance;
  }

  /** Delete every object this provider started (`all`: every envbox appliance in the namespace). */
  async cleanup(options: CleanupOptions = {}): Promise<string[]> {
    const { core, networking } = await this.#api();
    const labelSelector = options.all === true ? `${MANAGED_LABEL}=true` : `${MANAGED_LABEL}=true,${OWNER_LABEL}=${this.#owner}`;
    const namespace = this.#namespace;
    const pods = await core.listNamespacedPod({ namespace, labelSelector });
    const names = pods.items.map((pod) => pod.metadata?.name ?? '').filter((name) => name !== '');
    await Promise.allSettled([
      core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: 0 }),
      networking.deleteCollectionNamespacedNetworkPolicy({ namespace, labelSelector }),
      ...names.map((name) => core.deleteNamespacedService({ name, namespace })),
    ]);
    return names;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#started].map((appliance) => appliance.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Wait until Pod `name` is ready; resolves to the node it runs on. */
  async #waitReady(name: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<string | undefined> {
    const { core } = await this.#api();
    const deadline = Date.now() + timeoutMs;
    let pod: V1Pod | undefined;
    for (;;) {
      signal?.throwIfAborted();
      pod = await core.readNamespacedPod({ name, namespace: this.#namespace });
      const phase = pod.status?.phase ?? 'Unknown';
      if (pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True')) return pod.spec?.nodeName;
      if (phase === 'Failed' || phase === 'Succeeded') throw new ContainerStartError(`Pod ${name} ended before it was ready: ${describePod(pod)}`);
      if (Date.now() >= deadline) throw new HealthTimeoutError(`Pod ${name} was not ready within ${timeoutMs} ms: ${describePod(pod)}`, { timeoutMs });
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async #waitGone(name: string): Promise<void> {
    const { core } = await this.#api();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const exists = await core.readNamespacedPod({ name, namespace: this.#namespace }).then(
        () => true,
        () => false,
      );
      if (!exists) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async #state(name: string): Promise<ContainerState | undefined> {
    const { core } = await this.#api();
    const pod = await core.readNamespacedPod({ name, namespace: this.#namespace }).catch(() => undefined);
    if (pod === undefined) return undefined;
    const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
    return { running: pod.status?.phase === 'Running', status: describePod(pod), exitCode: terminated?.exitCode ?? null };
  }

  async #logs(name: string, tailLines: number): Promise<string> {
    const { core } = await this.#api();
    return core.readNamespacedPodLog({ name, namespace: this.#namespace, tailLines });
  }
}

/** What a Pod's status says: phase, and the container's waiting or terminated reason. */
export function describePod(pod: V1Pod): string {
  const status = pod.status?.containerStatuses?.[0]?.state;
  const reason = status?.waiting?.reason ?? status?.terminated?.reason ?? pod.status?.reason;
  const message = status?.waiting?.message ?? status?.terminated?.message ?? pod.status?.message;
  return `phase ${pod.status?.phase ?? 'Unknown'}${reason === undefined ? '' : `, ${reason}`}${message === undefined ? '' : `: ${message}`}`;
}

/** A local port forwarded to the Pod's port, one WebSocket per connection. */
async function startPortForward(kubeConfig: KubeConfig, namespace: string, pod: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const { PortForward } = await import('@kubernetes/client-node');
  const forward = new PortForward(kubeConfig);
  const server: Server = createServer((socket) => {
    void forward.portForward(namespace, pod, [port], socket, null, socket).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What {@link KubernetesAppliance} is made of. */
interface KubernetesApplianceInit {
  name: string;
  image: string;
  baseUrl: string;
  token: string;
  nodeName?: string;
  state(): Promise<ContainerState | undefined>;
  logs(tailLines: number): Promise<string>;
  close(): Promise<void>;
}

/** One appliance on Kubernetes: its Pod, Service and NetworkPolicy, removed by `close()`. */
export class KubernetesAppliance implements Container {
  readonly id: string;
  readonly image: string;
  readonly baseUrl: string;
  readonly token: string;
  /** The node its Pod was scheduled on (a replacement prefers another). */
  readonly nodeName: string | undefined;
  readonly #init: KubernetesApplianceInit;
  #closing: Promise<void> | undefined;

  constructor(init: KubernetesApplianceInit) {
    this.#init = init;
    this.id = init.name;
    this.image = init.image;
    this.baseUrl = init.baseUrl;
    this.token = init.token;
    this.nodeName = init.nodeName;
  }

  get alive(): boolean {
    return this.#closing === undefined;
  }

  health(options: HealthCheckOptions = {}): Promise<HealthResponse> {
    return checkHealth(this, options);
  }

  logs(tailLines = DEFAULT_LOG_TAIL_LINES): Promise<string> {
    return this.#init.logs(tailLines);
  }

  state(): Promise<ContainerState | undefined> {
    return this.#init.state();
  }

  close(): Promise<void> {
    this.#closing ??= this.#init.close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
