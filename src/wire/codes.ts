// Numeric codes of the client protocol (docs/PROTOCOL.md lists them with what
// a client should do). No flatbuffers here: the SDK and server both import it.

/** Error frame codes (Error.code). The connection stays open after these. */
export const error_code = {
  bad_frame: 1,              // not a decodable Frame
  frame_too_large: 2,        // larger than the server's inbound frame limit
  not_a_client_message: 3,   // a valid Frame whose body a client may not send
  unknown_symbol: 4,
  bad_depth: 5,              // depth other than 10, 50 or 0
  too_many_subscriptions: 6,
  rate_limited: 7,           // frame refused: inbound messages/s over the limit
  not_subscribed: 8,         // Resync/Unsubscribe for a view not subscribed
  bad_interval: 9,           // interval_ms out of range
  text_frame: 10,            // text frames are not part of the protocol
  not_entitled: 11,          // auth: symbol not in the token's entitlements
  bad_request: 12,           // well-formed but absurd (empty symbol list, …)
  bad_group: 13,             // group not an integer from 1 to group_ticks_max
  refresh_refused: 14,       // Refresh: the new token is invalid, or for another subject; the current token stays in force
  bad_write_delay: 15,       // /ws?write_delay_ms= not an integer from 0 to the server's write_delay_ms_max; the connection streams undelayed
} as const;
export type ErrorCode = (typeof error_code)[keyof typeof error_code];

/** WebSocket close codes used by the server. */
export const close_code = {
  going_away: 1001,          // server shutting down: reconnect elsewhere or later
  policy_rate: 4001,         // inbound message rate far over the limit
  unauthorized: 4003,        // missing, bad or expired token; origin not allowed
  slow_consumer: 4008,       // slow policy 'close': the client fell behind
  send_buffer_overflow: 4009,// hard cap on buffered bytes reached
  reader_too_slow: 4010,     // the reader is too slow even for conflated catch-ups (docs/PROTOCOL.md, Slow readers)
  too_many_connections: 4029,// new connections per IP per second over the limit
} as const;

/** The close codes that mean "closed for slowness" (4008 policy close, 4009 buffer cap, 4010 reader too slow): one list for the feed's counts and /metrics. */
export const slow_close_codes: readonly number[] = [close_code.slow_consumer, close_code.send_buffer_overflow, close_code.reader_too_slow];

export const depths_allowed: readonly number[] = [10, 50, 0];
export const interval_ms_max = 60_000;
/** Largest price bucket of a grouped view, in ticks (one definition: src/book/grouped_book.ts). */
export { group_ticks_max } from '../book/grouped_book.js';

/** The connect query parameter a client asks for its write delay with (/ws?write_delay_ms=N, PROTOCOL §5.10). */
export const write_delay_query = 'write_delay_ms';
