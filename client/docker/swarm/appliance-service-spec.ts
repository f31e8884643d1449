import type { CreateServiceOptions } from 'dockerode';
import type { ContainerLimits } from '../../provider/index.js';

/**
 * The hardened Swarm service of one appliance: everything of the local provider's HostConfig that
 * Swarm's API 1.41 carries (read-only root, every capability dropped, a non-root user, an init
 * process, a `noexec,nosuid,nodev` tmpfs on `/tmp`, CPU/memory/pids limits), one replica that is
 * never restarted, and the server's port published in host mode on an ephemeral port.
 *
 * Not carried by 20.10's Swarm (silently dropped): a per-service seccomp profile and
 * no-new-privileges. A node that hosts appliances gets both as daemon defaults (`make swarm-up`),
 * and the appliance runs with `ENVBOX_REQUIRE_ISOLATION=true` so that a node without them fails
 * loudly instead of running episodes without namespaces (shared/FIELD_NOTES.md, Swarm).
 */

/** Everything {@link applianceServiceSpec} needs, all resolved. */
export interface ApplianceServiceInit {
  /** The service's name. */
  name: string;
  /** The image ID (`sha256:…`): every node must have it; no registry is asked. */
  imageId: string;
  /** The server's arguments (after the image's entrypoint). */
  args: readonly string[];
  /** The server's environment, token included. */
  env: Readonly<Record<string, string>>;
  /** Labels of the service and of its containers. */
  labels: Readonly<Record<string, string>>;
  /** The user to run as (never root). */
  user: string;
  /** The server's port inside the container. */
  containerPort: number;
  /** The caps. */
  limits: Required<ContainerLimits>;
  /** Placement constraints, e.g. `node.role==worker`. */
  constraints: readonly string[];
  /** Seconds between SIGTERM and SIGKILL on removal. */
  stopTimeoutS: number;
}

/** The service spec of one hardened appliance (see the module comment). */
export function applianceServiceSpec(init: ApplianceServiceInit): CreateServiceOptions {
  const nanoCpus = Math.round(init.limits.cpus * 1e9);
  return {
    Name: init.name,
    Labels: { ...init.labels },
    TaskTemplate: {
      ContainerSpec: {
        Image: init.imageId,
        Args: [...init.args],
        Env: Object.entries(init.env).map(([key, value]) => `${key}=${value}`),
        Labels: { ...init.labels },
        User: init.user,
        Init: true,
        ReadOnly: true,
        CapabilityDrop: ['ALL'],
        Mounts: [{ Type: 'tmpfs', Source: '', Target: '/tmp', TmpfsOptions: { SizeBytes: init.limits.tmpSizeBytes, Mode: 0o1777 } }],
        StopGracePeriod: init.stopTimeoutS * 1e9,
        // The provider polls /health itself, which is faster than the image's HEALTHCHECK gating
        // the task's "running" state (FIELD_NOTES: ~5 s with a 1 s interval); the published port
        // is only reported once the task runs.
        HealthCheck: { Test: ['NONE'] },
      },
      Resources: {
        Limits: { NanoCPUs: nanoCpus, MemoryBytes: init.limits.memoryLimitBytes, Pids: init.limits.pidsLimit },
        Reservations: { NanoCPUs: 0, MemoryBytes: 0 },
      },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: { Constraints: [...init.constraints] },
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '1' } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: init.containerPort, PublishMode: 'host' }] },
  };
}
