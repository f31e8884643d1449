export { DEFAULT_CONCISE_BONUS, DEFAULT_CONCISE_MAX_CHARS, DEFAULT_SYNTAX_ERROR_PENALTY, QualityTransform } from './quality.js';
export type { QualityTransformOptions } from './quality.js';
export { DEFAULT_DANGEROUS_PATTERNS, DEFAULT_SAFETY_PENALTY, SafetyTransform } from './safety.js';
export type { SafetyTransformOptions } from './safety.js';
export { applyTransforms } from './transform.js';
export type { RewardTerm, RewardTransform } from './transform.js';
import { QualityTransform } from './quality.js';
import { SafetyTransform } from './safety.js';
import type { RewardTransform } from './transform.js';

/** The default reward of coding_env: safety plus quality. */
export function defaultTransforms(): RewardTransform[] {
  return [new SafetyTransform(), new QualityTransform()];
}
