// Invariants of the feed, asserted in the code at its state transitions (in
// the spirit of TigerBeetle's TIGER_STYLE): a broken one throws
// InvariantError there, where the cause is, instead of showing later as a
// client's broken book.
//
// Two kinds:
//   - check(): O(1), at transitions that are rare or per flush (a mode change,
//     a round of catch-ups, a send's in-flight bound, a view's seq). Always on,
//     production included: measured at no difference beyond noise in the
//     fan-out bench (docs/ARCHITECTURE.md, "Invariants").
//   - heavy: checks that cost O(subscriptions) per transition. On when
//     DEPTHCAST_ASSERT=1, which the test suite sets (vitest.config.ts); off in
//     production by default.
//
// Where they are asserted: session.ts (mode ⇔ the view's sets and topic
// membership), session_link.ts (bytes in flight ≤ cap + one turn; a round
// starts with nothing in flight), view_channel.ts and subscription.ts (seq
// contiguity per view: a view's seq never goes back within an epoch, and
// each catch-up starts right after the subscriber's last seq).

export class InvariantError extends Error {
  constructor(what: string) {
    super(`feed invariant broken: ${what}`);
    this.name = 'InvariantError';
  }
}

/** The O(subscriptions) checks are on (the test suite sets DEPTHCAST_ASSERT=1). */
export const heavy_checks = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DEPTHCAST_ASSERT === '1';

/** Throws InvariantError when `ok` is false. `what` is a constant string: nothing is built unless it fails. */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new InvariantError(what);
}
