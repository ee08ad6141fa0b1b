// Fuzzes what clients send: random, truncated, bit-flipped, overwritten,
// spliced, oversized, text and valid-but-absurd frames (0 or 1000 symbols,
// 33-byte and empty symbols, depth 65535, interval 2^32-1, nonce 2^64-1,
// server-only bodies, unknown union types).
//
//   phase 1, decoder: decode_client_frame in-process, --cases times (default
//     1,000,000). Every case must decode to a message within the protocol's
//     bounds or throw a WireError with a known code that is not an
//     "internal decoder error" (a caught bug).
//   phase 2, live server: `depthcast all` as a child process, --server-cases
//     cases over --connections sockets. After each case the socket sends a
//     Ping and waits for its Pong; the Error frames in between must be
//     exactly those a model of the server predicts (the decoder's code,
//     frame_too_large, text_frame, unknown_symbol, bad_group, bad_depth, the
//     subscription limit, not_subscribed, ...). Frames over 16x the limit
//     must close the socket; nothing else may. At the end the process must
//     still be alive and /health 200.
//
//   npx tsx scripts/fuzz.ts [--cases 1000000] [--server-cases 100000] [--connections 8] [--seed 1] [--out artifacts/fuzz.json]
//
// Seeded: a failure names the seed and the case index; rerun with the same
// seed to reproduce it. test/unit/fuzz_client_frames.test.ts runs a small
// seeded set of both phases in CI.
//
// This file is the command line; the parts are in ./fuzz/: cases.ts (the
// generator), decoder_phase.ts and server_phase.ts (the two phases and the
// spawned target).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { number_flag, string_flag } from '../src/util/flags.js';
import { fuzz_decoder } from './fuzz/decoder_phase.js';
import { fuzz_server, spawn_fuzz_target } from './fuzz/server_phase.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => number_flag(argv, `--${name}`, fallback, { kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER });

async function main(): Promise<void> {
  const cases = arg('cases', 1_000_000);
  const server_cases = arg('server-cases', 100_000);
  const connections = arg('connections', 8);
  const seed = arg('seed', 1);
  const out = string_flag(argv, '--out', 'artifacts/fuzz.json');
  const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
  const frame_bytes_max = 4096;
  // Small enough that connections reach it between the 16x-frame closes: the model checks Error 6 too.
  const subscriptions_max = 4;

  process.stdout.write(`fuzz: decoder phase, ${cases} cases, seed ${seed}\n`);
  const decoder = fuzz_decoder(cases, seed, symbols, frame_bytes_max);
  process.stdout.write(`  ${decoder.cases} cases in ${decoder.ms} ms: ${decoder.decoded} decoded, refused by code ${JSON.stringify(decoder.refused_by_code)}, failures ${decoder.failures.length}\n`);

  const server = await spawn_fuzz_target(symbols, frame_bytes_max, subscriptions_max);
  process.stdout.write(`fuzz: server phase, ${server_cases} cases over ${connections} connections against depthcast all (pid ${server.pid})\n`);
  const after = await (async () => {
    try {
      const report = await fuzz_server({ url: server.url, cases: server_cases, seed, connections, symbols, frame_bytes_max, subscriptions_max });
      return { report, alive: server.alive(), rss_mb: server.rss_mb(), health: (await fetch(server.health_url)).status };
    } finally {
      await server.stop();
    }
  })();
  const { report: live, alive, rss_mb, health } = after;
  process.stdout.write(`  ${live.cases} cases in ${live.ms} ms: ${live.connections_opened} connections (${live.expected_closes} closed by the 16x frame rule), `
    + `Error frames by code ${JSON.stringify(live.error_frames_by_code)}, failures ${live.failures.length}; server alive ${alive}, /health ${health}, RSS ${rss_mb} MB\n`);

  const ok = decoder.failures.length === 0 && live.failures.length === 0 && alive && health === 200;
  const report = { ok, decoder, server: { ...live, alive_after: alive, health_after: health, rss_mb_after: rss_mb } };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`fuzz: ${ok ? 'OK' : 'FAILED'} (report: ${out})\n`);
  for (const f of [...decoder.failures, ...live.failures].slice(0, 10)) process.stdout.write(`  #${f.index} ${f.kind}: ${f.problem}\n    ${f.hex}\n`);
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(2);
});
