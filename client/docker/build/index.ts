export {
  buildImage,
  DEFAULT_BASE_IMAGE,
  DEFAULT_BUILD_CONTEXT,
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_DOCKERFILE,
  DEFAULT_IMAGE_TAG,
  imageExists,
} from './build-image.js';
export type { BuildImageOptions, BuildImageResult } from './build-image.js';
export { BuildImageCommandOptions, buildImageCommand } from './build-image-command.js';
export { listBuildContext, packBuildContext, tarSize } from './build-context.js';
export type { BuildContext, BuildContextOptions, ContextEntry } from './build-context.js';
export { createBuildProgressReporter } from './build-progress.js';
export type { BuildProgressEvent, BuildProgressReporter, ProgressOutput } from './build-progress.js';
export { DockerIgnore } from './dockerignore.js';
export { ImageBuildError } from './image-build-error.js';
export { MissingDependencyError, productionPackages } from './production-packages.js';
