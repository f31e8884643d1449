import type { CodeAction, CodeObservation } from '../models.js';

/** What one transform adds to a step: a reward term and notes for `metadata`. */
export interface RewardTerm {
  reward: number;
  metadata?: Record<string, unknown>;
}

/** One composable piece of the reward of coding_env. */
export interface RewardTransform {
  /** Name, e.g. `safety`. */
  readonly name: string;
  /** The term this transform adds for `action` and what it produced. */
  apply(action: CodeAction, observation: CodeObservation): RewardTerm;
}

/**
 * Sum the transforms' terms into the observation's `reward`, merge their notes into `metadata`
 * and list each term under `metadata.reward_terms`.
 */
export function applyTransforms(transforms: readonly RewardTransform[], action: CodeAction, observation: CodeObservation): CodeObservation {
  if (transforms.length === 0) return observation;
  let reward = 0;
  const terms: Record<string, number> = {};
  let metadata = observation.metadata;
  for (const transform of transforms) {
    const term = transform.apply(action, observation);
    reward += term.reward;
    terms[transform.name] = term.reward;
    if (term.metadata !== undefined) metadata = { ...metadata, ...term.metadata };
  }
  return { ...observation, reward, metadata: { ...metadata, reward_terms: terms } };
}
