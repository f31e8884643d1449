import t from 'tap';
import { createPythonBackend } from '../../sandbox/index.js';

const steps: [string, number?][] = JSON.parse(process.env.STEPS ?? '[]');
const backend = await createPythonBackend((process.env.BACKEND ?? 'pyodide') as 'pyodide');
t.comment(JSON.stringify({ isolation: backend.isolation, reason: backend.isolationReason, snap: (backend as any).snapshot?.bytes?.length }));
let sandbox = await backend.create();
for (const [code, timeoutMs] of steps) {
  if (!sandbox.alive) { await sandbox.close(); sandbox = await backend.create(); t.comment('--- new sandbox'); }
  const r = await sandbox.run(code, { timeoutMs: timeoutMs ?? 30000 });
  t.comment(JSON.stringify(code) + ' => ' + JSON.stringify({ ...r, stdout: r.stdout.slice(0, 300), stderr: r.stderr.slice(-600) }));
}
await sandbox.close();
t.pass();
