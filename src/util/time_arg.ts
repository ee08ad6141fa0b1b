// A point in time given on the command line (--from, --to, --time): integer
// milliseconds since the Unix epoch, or an ISO-8601 date-time with a zone
// ("2026-12-01T20:15:03.250Z", "...+01:00"). Millisecond resolution.
// Cost: one regex and Date.parse; start-up only.

const iso_re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** ms since 1970, or undefined when `text` is neither form. */
export function parse_time_ms(text: string): number | undefined {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (!iso_re.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

export const time_arg_help = 'ms since 1970 or an ISO-8601 time with a zone (2026-12-01T20:15:03.250Z)';
