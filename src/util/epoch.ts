// A new epoch (docs/PROTOCOL.md §5.2): wall-clock ms, strictly increasing
// within a process. The engine takes one per start, a replay one per recorded
// epoch per loop pass; feeds treat a higher epoch as a restart.
// Cost: one Date.now().

let last_epoch = 0;

export function new_epoch(): number {
  last_epoch = Math.max(Date.now(), last_epoch + 1);
  return last_epoch;
}
