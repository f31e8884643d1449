import { Pod, Service } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { ContainerLimits } from '../provider/index.js';

/**
 * The Kubernetes objects of one appliance: a Pod whose securityContext equals the local provider's
 * hardened HostConfig, a Service in front of it, and a NetworkPolicy denying its egress. Built
 * with kubernetes-models, whose `validate()` checks each against Kubernetes' published schemas.
 */

/** Everything {@link applianceManifests} needs, all resolved. */
export interface ApplianceManifestsInit {
  /** The Pod's and the Service's name (a DNS-1123 label). */
  name: string;
  namespace: string;
  image: string;
  /** The server's arguments (after the image's entrypoint). */
  args: readonly string[];
  /** The server's environment, token included. */
  env: Readonly<Record<string, string>>;
  /** Labels of every object; the Service selects the Pod by them. */
  labels: Readonly<Record<string, string>>;
  /** The uid to run as (never 0). */
  uid: number;
  containerPort: number;
  limits: Required<ContainerLimits>;
  /** A seccomp profile on the nodes (`Localhost`, relative to the kubelet's seccomp root) allowing the namespace calls. */
  seccompProfile: string;
  /** e.g. `gvisor`. */
  runtimeClassName?: string;
  /** Seconds between SIGTERM and SIGKILL. */
  stopTimeoutS: number;
  /**
   * The node of the dead appliance this one replaces: the scheduler is asked to prefer any other
   * (a soft node anti-affinity, so a cluster of one node still takes it).
   */
  avoidNode?: string;
}

/** The Pod, Service and NetworkPolicy of one appliance, each validated. */
export function applianceManifests(init: ApplianceManifestsInit): { pod: Pod; service: Service; networkPolicy: NetworkPolicy } {
  const metadata = { name: init.name, namespace: init.namespace, labels: { ...init.labels } };
  const pod = new Pod({
    metadata,
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: init.stopTimeoutS,
      ...(init.runtimeClassName === undefined ? {} : { runtimeClassName: init.runtimeClassName }),
      ...(init.avoidNode === undefined
        ? {}
        : {
            affinity: {
              nodeAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, preference: { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: [init.avoidNode] }] } },
                ],
              },
            },
          }),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: init.uid,
        runAsGroup: init.uid,
        seccompProfile: { type: 'Localhost', localhostProfile: init.seccompProfile },
      },
      containers: [
        {
          name: 'envbox',
          image: init.image,
          imagePullPolicy: 'IfNotPresent',
          args: [...init.args],
          env: Object.entries(init.env).map(([name, value]) => ({ name, value })),
          ports: [{ name: 'http', containerPort: init.containerPort, protocol: 'TCP' }],
          securityContext: {
            runAsNonRoot: true,
            runAsUser: init.uid,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            privileged: false,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'Localhost', localhostProfile: init.seccompProfile },
          },
          resources: {
            limits: { memory: String(init.limits.memoryLimitBytes), cpu: String(init.limits.cpus) },
            requests: { memory: String(init.limits.memoryLimitBytes), cpu: String(init.limits.cpus) },
          },
          readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 3 },
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: String(init.limits.tmpSizeBytes) } }],
    },
  });
  const service = new Service({
    metadata,
    spec: { type: 'ClusterIP', selector: { ...init.labels }, ports: [{ name: 'http', port: init.containerPort, targetPort: 'http', protocol: 'TCP' }] },
  });
  // Ingress to the server's port only; no egress at all (the episodes' code reaches nothing).
  const networkPolicy = new NetworkPolicy({
    metadata,
    spec: {
      podSelector: { matchLabels: { ...init.labels } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ port: init.containerPort, protocol: 'TCP' }] }],
      egress: [],
    },
  });
  pod.validate();
  service.validate();
  networkPolicy.validate();
  return { pod, service, networkPolicy };
}
