import { EnvboxError, type EnvboxErrorOptions } from '../runtime/index.js';

/** 503 `SANDBOX_UNAVAILABLE`: a sandbox could not be started (the appliance is broken or overloaded). */
export class SandboxUnavailableError extends EnvboxError {
  constructor(message: string, options?: EnvboxErrorOptions) {
    super('SANDBOX_UNAVAILABLE', 503, message, options);
  }
}
