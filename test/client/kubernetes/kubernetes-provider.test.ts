import t from 'tap';
import { KubeConfig } from '@kubernetes/client-node';
import { describePod, KubernetesProvider } from '../../../client/index.js';
import { EchoEnv } from '../../../envs/index.js';

/**
 * KubernetesProvider against a real cluster: runs where KUBECONFIG points at one whose nodes have
 * the appliance image and envbox's seccomp profile (ENVBOX_K8S_TESTS=required makes its absence a
 * failure). No Kubernetes API server can run on the machines this project is built on; the objects
 * the provider creates are validated against Kubernetes' schemas in appliance-manifests.test.ts.
 */
const REQUIRED = process.env.ENVBOX_K8S_TESTS === 'required';

async function reachableCluster(): Promise<KubeConfig | string> {
  if (process.env.KUBECONFIG === undefined || process.env.KUBECONFIG === '') return 'KUBECONFIG is not set';
  const config = new KubeConfig();
  try {
    config.loadFromDefault();
    const cluster = config.getCurrentCluster();
    if (cluster === null) return `KUBECONFIG ${process.env.KUBECONFIG} names no current cluster`;
    const response = await fetch(`${cluster.server}/version`, { signal: AbortSignal.timeout(5000) }).catch((error: Error) => error);
    if (response instanceof Error) return `the cluster at ${cluster.server} does not answer (${response.message})`;
    return config;
  } catch (error) {
    return `KUBECONFIG cannot be loaded (${(error as Error).message})`;
  }
}

t.test('describePod names the phase and the reason', async (t) => {
  t.equal(describePod({ status: { phase: 'Pending', containerStatuses: [{ name: 'envbox', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImageNeverPull', message: 'image not present' } } }] } }), 'phase Pending, ErrImageNeverPull: image not present');
  t.equal(describePod({}), 'phase Unknown');
});

t.test('a real cluster: an appliance starts, answers an episode, and close() and cleanup() remove it', async (t) => {
  const cluster = await reachableCluster();
  if (typeof cluster === 'string') {
    if (REQUIRED) t.fail(`ENVBOX_K8S_TESTS=required, but ${cluster}`);
    else {
      process.stderr.write(`\n!!! KUBERNETES TESTS SKIPPED: ${cluster} (ENVBOX_K8S_TESTS=required makes this a failure) !!!\n\n`);
      t.plan(0, `KUBERNETES TESTS SKIPPED: ${cluster}`);
    }
    return;
  }
  const provider = new KubernetesProvider({ kubeConfig: cluster, namespace: process.env.ENVBOX_K8S_NAMESPACE ?? 'default' });
  t.teardown(() => provider.cleanup());
  await using env = await EchoEnv.fromProvider(provider, { image: provider.defaultImage });
  t.equal((await env.container!.health()).status, 'healthy');
  await env.reset();
  t.match(await env.step({ message: 'hi' }), { observation: { echoed_message: 'hi' } });
  await env.close();
  t.same(await provider.cleanup(), [], 'close() left nothing for cleanup()');
});
