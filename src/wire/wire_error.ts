/**
 * Bytes that are not a well-formed message of the expected type: truncated,
 * garbage, out-of-range values or broken invariants. Decoders throw this (and
 * only this) on bad input, so a caller can catch it without hiding real bugs.
 */
export class WireError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
    this.name = 'WireError';
  }
}
