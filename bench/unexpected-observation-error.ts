/**
 * A step answered normally but its observation is not what the sample action gives (e.g. the
 * sandbox died: exit code 137); counted as a failed call, under this class's name.
 */
export class UnexpectedObservationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnexpectedObservationError';
  }
}
