// The client protocol's codec under its former name: a re-export of
// feed_encoder.ts (FrameEncoder), feed_decoder.ts (decode_server_frame,
// decode_client_frame) and feed_slots.ts. Code in src/ and test/ imports
// those directly; this stays for the benches and for readers of
// docs/PROTOCOL.md who copy "the codec". No code of its own.

export * from './feed_slots.js';
export * from './feed_encoder.js';
export * from './feed_decoder.js';
