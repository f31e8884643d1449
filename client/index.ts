export { DEFAULT_CLIENT_TIMEOUT_MS, EnvClient, STEP_TIMEOUT_SLACK_MS } from './env-client.js';
export type { ClientCallOptions, EnvClientOptions, EnvSchemasOf, StepCallOptions, StepResult } from './env-client.js';
export { HttpTransport } from './http-transport.js';
export type { HttpSession, HttpTransportOptions } from './http-transport.js';
export { parseResponse } from './parse-response.js';
export { watchCall } from './transport.js';
export type { CallOptions, GiveUpReason, Transport } from './transport.js';
export { DEFAULT_WS_CONNECT_TIMEOUT_MS, WsTransport } from './ws-transport.js';
export type { WsTransportOptions } from './ws-transport.js';
