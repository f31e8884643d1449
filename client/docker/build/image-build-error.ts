import { EnvboxError, type EnvboxErrorOptions } from '../../../protocol/index.js';

/** `IMAGE_BUILD`: an image build failed (a Dockerfile step, the base image, the build context). */
export class ImageBuildError extends EnvboxError {
  /** The last lines the build printed. */
  readonly logs: string;

  constructor(message: string, options: EnvboxErrorOptions & { logs?: string } = {}) {
    super('IMAGE_BUILD', 0, message, options);
    this.logs = options.logs ?? '';
  }
}
