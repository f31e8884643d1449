import { WsServerMessage } from '../../protocol/index.js';
import { CheckSkipped, fail, type CheckContext, type ConformanceCheck } from './check-context.js';
import { violatingAction } from './sample-action.js';
import { WsPeer } from './ws-peer.js';

/** The reply to one message, of the expected type; an error reply or another type fails the check. */
async function reply(peer: WsPeer, message: unknown, type: 'observation' | 'state', what: string): Promise<unknown> {
  const answer = await peer.call(message).catch((error: Error) => fail(`${what}: ${error.message}`));
  const parsed = WsServerMessage.safeParse(answer);
  if (!parsed.success || parsed.data.type !== type) fail(`${what} answered ${JSON.stringify(answer)?.slice(0, 200)}; expected {"type": "${type}", "data": ...}`);
  return parsed.data.data;
}

/** An error reply to `message`, with the envelope's code and message. */
async function refusal(peer: WsPeer, message: unknown, what: string): Promise<string> {
  const answer = await peer.call(message).catch((error: Error) => fail(`${what}: ${error.message}; expected {"type": "error"} and the connection kept open`));
  const parsed = WsServerMessage.safeParse(answer);
  if (!parsed.success || parsed.data.type !== 'error') fail(`${what} answered ${JSON.stringify(answer)?.slice(0, 200)}; expected {"type": "error", "data": {"code", "message"}}`);
  return parsed.data.data.code;
}

async function connect(context: CheckContext): Promise<WsPeer> {
  const peer = await WsPeer.connect(context.wsUrl, { ...(context.token === undefined ? {} : { token: context.token }), timeoutMs: context.timeoutMs }).catch((error: Error) =>
    fail(`cannot open ${context.wsUrl}: ${error.message}`),
  );
  context.peers.push(peer);
  return peer;
}

/**
 * Step the first connection with the sample action, counting the step; when the episode had
 * ended, reset it first (and start counting again). Says whether it reset.
 */
async function stepFirstPeer(context: CheckContext, peer: WsPeer): Promise<string> {
  let note = '';
  if (context.wsDone) {
    context.checkStepReply('reset over /ws', await reply(peer, { type: 'reset', data: {} }, 'observation', 'reset over /ws'));
    context.wsSteps = 0;
    note = ' (after a reset: the episode had ended)';
  }
  const step = context.checkStepReply('step over /ws', await reply(peer, { type: 'step', data: context.sample!.action }, 'observation', 'step over /ws'));
  context.wsSteps += 1;
  context.wsDone = step.done === true;
  return note;
}

const short = (id: unknown): string => (typeof id === 'string' ? `${id.slice(0, 8)}…` : JSON.stringify(id));

/** OpenEnv's WebSocket protocol on `/ws`: one session per connection, `{"type", "data"}` messages. */
export const WS_CHECKS: readonly ConformanceCheck[] = [
  {
    name: 'ws_episode',
    description: 'reset, step and state over /ws; replies match /schema',
    needs: ['sample_action'],
    async run(context) {
      const peer = await connect(context);
      const reset = context.checkStepReply('reset over /ws', await reply(peer, { type: 'reset', data: {} }, 'observation', 'reset over /ws'));
      const step = context.checkStepReply('step over /ws', await reply(peer, { type: 'step', data: context.sample!.action }, 'observation', 'step over /ws'));
      context.wsSteps = 1;
      context.wsDone = step.done === true;
      context.checkState('state over /ws', await reply(peer, { type: 'state' }, 'state', 'state over /ws'), 1);
      return `reset (done ${reset.done}), step (reward ${step.reward}, done ${step.done}), state step_count 1`;
    },
  },
  {
    name: 'ws_sessions_isolated',
    description: "a second connection neither sees nor changes the first one's episode",
    needs: ['ws_episode'],
    async run(context) {
      const first = context.peers[0]!;
      const second = await connect(context);
      context.checkStepReply('reset over the second /ws', await reply(second, { type: 'reset', data: {} }, 'observation', 'reset over the second /ws'));
      const note = await stepFirstPeer(context, first);
      const a = context.checkState('state over the first /ws', await reply(first, { type: 'state' }, 'state', 'state over the first /ws'), context.wsSteps);
      const b = context.checkState('state over the second /ws, after a step on the first', await reply(second, { type: 'state' }, 'state', 'state over the second /ws'), 0);
      if (a.episode_id != null && a.episode_id === b.episode_id) fail(`both connections are in episode ${JSON.stringify(a.episode_id)}`);
      return `episodes ${short(a.episode_id)} (step_count ${context.wsSteps}) and ${short(b.episode_id)} (step_count 0)${note}`;
    },
  },
  {
    name: 'ws_malformed_message',
    description: 'a frame that is not JSON answers {"type": "error"} and the connection stays open',
    needs: ['ws_episode'],
    async run(context) {
      return `error ${await refusal(context.peers[0]!, '{"type": "step", "data": ', 'a frame that is not JSON')}`;
    },
  },
  {
    name: 'ws_invalid_action',
    description: 'a step whose action breaks /schema answers {"type": "error"} and the connection stays open',
    needs: ['ws_episode'],
    async run(context) {
      const bad = violatingAction(context.schemas?.actionSchema, context.sample!.action);
      if (context.schemas?.action.check(bad.action) === null) throw new CheckSkipped(`the action schema accepts ${JSON.stringify(bad.action)}; the kit found no action it refuses`);
      return `the sample action ${bad.how}: error ${await refusal(context.peers[0]!, { type: 'step', data: bad.action }, `a step with the sample action ${bad.how}`)}`;
    },
  },
  {
    name: 'ws_session_usable',
    description: 'after the refused messages the connection still steps, and they did not count',
    needs: ['ws_episode'],
    async run(context) {
      const peer = context.peers[0]!;
      const note = await stepFirstPeer(context, peer);
      context.checkState('state over /ws', await reply(peer, { type: 'state' }, 'state', 'state over /ws'), context.wsSteps);
      return `step answered, step_count ${context.wsSteps}${note}`;
    },
  },
  {
    name: 'ws_close',
    description: '{"type": "close"} closes the session and the socket (1000) without a reply',
    needs: ['ws_episode'],
    async run(context) {
      const peer = context.peers.at(-1)!;
      peer.send({ type: 'close' });
      const closed = await Promise.race([peer.closed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), context.timeoutMs).unref())]);
      if (closed === undefined) fail(`the socket was still open ${context.timeoutMs} ms after {"type": "close"}`);
      if (closed.code !== 1000) fail(`the socket closed with ${closed.code} ${closed.reason}; expected 1000`);
      if (peer.pending > 0) fail(`{"type": "close"} was answered (${JSON.stringify(await peer.next())?.slice(0, 200)}); expected no reply`);
      return `closed 1000${closed.reason === '' ? '' : ` (${closed.reason})`}`;
    },
  },
];
