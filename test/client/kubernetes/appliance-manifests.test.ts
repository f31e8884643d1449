import t from 'tap';
import { applianceManifests, type ApplianceManifestsInit } from '../../../client/kubernetes/appliance-manifests.js';

const INIT: ApplianceManifestsInit = {
  name: 'envbox-a1b2',
  namespace: 'envbox',
  image: 'envbox/appliance:latest',
  args: ['--env', 'coding_env'],
  env: { ENVBOX_TOKEN: 'secret', ENVBOX_REQUIRE_ISOLATION: 'true' },
  labels: { 'envbox.managed': 'true', 'envbox.owner': 'test' },
  uid: 10001,
  containerPort: 8000,
  limits: { memoryLimitBytes: 1024 ** 3, pidsLimit: 512, cpus: 1, tmpSizeBytes: 64 * 1024 ** 2 },
  seccompProfile: 'envbox/seccomp.json',
  stopTimeoutS: 5,
};

t.test('the Pod, Service and NetworkPolicy of an appliance validate against Kubernetes schemas, hardened as the HostConfig', async (t) => {
  const { pod, service, networkPolicy } = applianceManifests(INIT);
  const container = pod.spec!.containers[0]!;
  t.match(pod.spec, { automountServiceAccountToken: false, restartPolicy: 'Never', securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'Localhost' } } });
  t.match(container.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
  t.match(pod.spec!.volumes, [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: String(64 * 1024 ** 2) } }]);
  t.match(container.readinessProbe, { httpGet: { path: '/health' } });
  t.same(service.spec!.selector, INIT.labels);
  t.same(networkPolicy.spec!.egress, [], 'no egress');
  t.same(networkPolicy.spec!.policyTypes, ['Ingress', 'Egress']);
  t.match(applianceManifests({ ...INIT, runtimeClassName: 'gvisor' }).pod.spec, { runtimeClassName: 'gvisor' });
});

t.test("a replacement prefers a node other than the dead appliance's (soft, validated)", async (t) => {
  t.equal(applianceManifests(INIT).pod.spec!.affinity, undefined, 'no affinity for a first start');
  const { pod } = applianceManifests({ ...INIT, avoidNode: 'node-7' });
  t.same(pod.spec!.affinity, {
    nodeAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-7'] }] } }],
    },
  });
  t.doesNotThrow(() => pod.validate(), "Kubernetes' schema takes it");
});

t.test('an object the schemas refuse throws before anything reaches a cluster', async (t) => {
  t.throws(() => applianceManifests({ ...INIT, containerPort: 'x' as unknown as number }));
  t.throws(() => applianceManifests({ ...INIT, stopTimeoutS: 1.5 }));
});
