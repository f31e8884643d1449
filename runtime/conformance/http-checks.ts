import { CreateSessionResponse } from '../../protocol/index.js';
import { CheckSkipped, fail, type CheckContext, type ConformanceCheck } from './check-context.js';
import { describeReply, errorEnvelope } from './http-probe.js';
import { violatingAction } from './sample-action.js';

/** The header that picks a session over plain HTTP. */
const SESSION_HEADER = 'x-session-id';

async function openSession(context: CheckContext): Promise<string> {
  const reply = await context.http.request('POST', '/sessions');
  const parsed = CreateSessionResponse.safeParse(reply.json);
  if (reply.status !== 201 || !parsed.success) fail(`POST /sessions answered ${describeReply(reply)}; expected 201 {"session_id"}`);
  context.httpSessions.push(parsed.data.session_id);
  return parsed.data.session_id;
}

async function call(context: CheckContext, session: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const reply = await context.http.request(method, path, body, { [SESSION_HEADER]: session });
  if (reply.status !== 200) fail(`${method} ${path} answered ${describeReply(reply)}; expected 200`);
  return reply.json;
}

const short = (id: unknown): string => (typeof id === 'string' ? `${id.slice(0, 8)}…` : JSON.stringify(id));

/**
 * A refusal with the error envelope, then the session still answering: shared by the malformed and
 * the schema-violating step.
 */
async function expectRefusal(context: CheckContext, body: unknown, what: string): Promise<string> {
  const session = context.httpSessions[0]!;
  const reply = await context.http.request('POST', '/step', body, { [SESSION_HEADER]: session });
  if (reply.status !== 400 && reply.status !== 422) fail(`POST /step with ${what} answered ${describeReply(reply)}; expected 400 or 422 with the error envelope`);
  const envelope = errorEnvelope(reply.json);
  if (typeof envelope === 'string') fail(`POST /step with ${what} answered ${reply.status}, ${envelope}`);
  return `${reply.status} ${envelope.code}`;
}

/**
 * Step the first session with the sample action, counting the step; when the episode had ended,
 * reset it first (and start counting again). Says whether it reset.
 */
async function stepFirstSession(context: CheckContext, session: string): Promise<string> {
  let note = '';
  if (context.httpDone) {
    context.checkStepReply('POST /reset', await call(context, session, 'POST', '/reset', {}));
    context.httpSteps = 0;
    note = ' (after a reset: the episode had ended)';
  }
  const step = context.checkStepReply('POST /step', await call(context, session, 'POST', '/step', { action: context.sample!.action }));
  context.httpSteps += 1;
  context.httpDone = step.done === true;
  return note;
}

/** Reset, step and state over plain HTTP, in sessions of the kit's own (`POST /sessions`, `X-Session-Id`). */
export const HTTP_CHECKS: readonly ConformanceCheck[] = [
  {
    name: 'http_episode',
    description: 'POST /sessions, then reset, step and state over HTTP; replies match /schema',
    needs: ['sample_action'],
    async run(context) {
      const session = await openSession(context);
      const reset = context.checkStepReply('POST /reset', await call(context, session, 'POST', '/reset', {}));
      const step = context.checkStepReply('POST /step', await call(context, session, 'POST', '/step', { action: context.sample!.action }));
      context.httpSteps = 1;
      context.httpDone = step.done === true;
      context.checkState('GET /state', await call(context, session, 'GET', '/state'), 1);
      return `session ${short(session)}: reset (done ${reset.done}), step (reward ${step.reward}, done ${step.done}), state step_count 1`;
    },
  },
  {
    name: 'http_sessions_isolated',
    description: "a second HTTP session neither sees nor changes the first one's episode",
    needs: ['http_episode'],
    async run(context) {
      const [first] = context.httpSessions as [string];
      const second = await openSession(context);
      context.checkStepReply('POST /reset', await call(context, second, 'POST', '/reset', {}));
      const note = await stepFirstSession(context, first);
      const a = context.checkState('GET /state (first session)', await call(context, first, 'GET', '/state'), context.httpSteps);
      const b = context.checkState('GET /state (second session, after a step in the first)', await call(context, second, 'GET', '/state'), 0);
      if (a.episode_id != null && a.episode_id === b.episode_id) fail(`both sessions are in episode ${JSON.stringify(a.episode_id)}`);
      return `episodes ${short(a.episode_id)} (step_count ${context.httpSteps}) and ${short(b.episode_id)} (step_count 0)${note}`;
    },
  },
  {
    name: 'http_malformed_action',
    description: 'POST /step with a body that is not JSON answers 400 or 422 with the error envelope',
    needs: ['http_episode'],
    async run(context) {
      return expectRefusal(context, '{"action": ', 'a body that is not JSON');
    },
  },
  {
    name: 'http_invalid_action',
    description: 'POST /step with an action that breaks /schema answers 400 or 422 with the error envelope',
    needs: ['http_episode'],
    async run(context) {
      const bad = violatingAction(context.schemas?.actionSchema, context.sample!.action);
      if (context.schemas?.action.check(bad.action) === null) throw new CheckSkipped(`the action schema accepts ${JSON.stringify(bad.action)}; the kit found no action it refuses`);
      return `the sample action ${bad.how}: ${await expectRefusal(context, { action: bad.action }, `the sample action ${bad.how}`)}`;
    },
  },
  {
    name: 'http_session_usable',
    description: 'after the refused steps the session still steps, and they did not count',
    needs: ['http_episode'],
    async run(context) {
      const session = context.httpSessions[0]!;
      const note = await stepFirstSession(context, session);
      context.checkState('GET /state', await call(context, session, 'GET', '/state'), context.httpSteps);
      return `step answered, step_count ${context.httpSteps}${note}`;
    },
  },
];
