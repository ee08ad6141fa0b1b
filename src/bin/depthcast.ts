#!/usr/bin/env node
// The depthcast CLI: `all` (what `npm start` runs), `engine`, `feed`,
// `record`, `replay`, `book-at` (docs/RECORDING.md) and `token` (mints an HS256 JWT
// for development, docs/OPERATIONS.md §4).
import { ConfigError, help_text, parse_config, type Command } from '../config.js';
import { log_root } from '../util/log.js';

const commands: readonly Command[] = ['all', 'engine', 'feed', 'record', 'replay', 'book-at'];

function fail(message: string): never {
  process.stderr.write(`depthcast: ${message}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const [command_arg, ...rest] = process.argv.slice(2);
  if (command_arg === undefined || command_arg === '--help' || command_arg === '-h' || command_arg === 'help') {
    process.stdout.write(help_text(undefined) + '\n');
    return;
  }
  if (command_arg === 'token') {
    const { token_from_args, token_help } = await import('../server/token_cli.js');
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(token_help + '\n');
      return;
    }
    try {
      process.stdout.write(await token_from_args(rest, process.env, Math.floor(Date.now() / 1000)) + '\n');
    } catch (err) {
      fail((err as Error).message);
    }
    return;
  }
  if (!commands.includes(command_arg as Command)) fail(`unknown command '${command_arg}'; expected one of: ${commands.join(', ')} (see depthcast --help)`);
  const command = command_arg as Command;
  let parsed;
  try {
    parsed = parse_config(command, rest, process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(help_text(command) + '\n');
    return;
  }
  let config = parsed.config;
  log_root.level = config.log_level;
  if (command === 'book-at') {
    const { book_at, format_book_at } = await import('../record/book_at.js');
    const { parse_time_ms } = await import('../util/time_arg.js');
    try {
      const book = book_at(config.recording_dir, parse_time_ms(config.book_at_time)!, config.book_at_symbol);
      process.stdout.write((config.json ? JSON.stringify(book) : format_book_at(book)) + '\n');
    } catch (err) {
      fail((err as Error).message);
    }
    return;
  }
  // Imported after validation so that --help and bad flags answer fast and never touch sockets.
  const app = await import('../app.js');
  let stop: () => Promise<void>;
  if (command === 'all') {
    if (config.nats_url !== '') log_root.info({ nats_url: config.nats_url }, 'using NATS instead of the embedded bus');
    const all = await app.start_all(config);
    stop = all.stop;
  } else if (command === 'record') {
    const { start_recorder } = await import('../record/recorder.js');
    const bus = await app.open_bus(config, 'depthcast-record');
    const recorder = start_recorder(config, bus);
    stop = async () => { await recorder.stop(); await bus.close(); };
  } else if (command === 'replay') {
    const { start_replay } = await import('../record/replay.js');
    const { parse_time_ms } = await import('../util/time_arg.js');
    const bus = await app.open_bus(config, 'depthcast-replay');
    let replay;
    try {
      replay = start_replay({
        recording_dir: config.recording_dir, subject_prefix: config.subject_prefix,
        speed: config.replay_speed === 'max' ? 'max' : Number(config.replay_speed),
        from_ns: config.replay_from === '' ? undefined : parse_time_ms(config.replay_from)! * 1e6,
        to_ns: config.replay_to === '' ? undefined : parse_time_ms(config.replay_to)! * 1e6,
        loop: config.replay_loop, chunk_events_max: config.replay_chunk_events_max,
        heartbeat_interval_ms: config.engine_heartbeat_interval_ms,
      }, bus);
    } catch (err) {
      await bus.close();
      fail((err as Error).message);
    }
    // The feed serves the recording's symbols unless --symbols (or its variable) says otherwise.
    const symbols_given = rest.some((a) => a === '--symbols' || a.startsWith('--symbols=')) || (process.env.DEPTHCAST_SYMBOLS ?? '') !== '';
    if (!symbols_given) config = Object.freeze({ ...config, symbols: replay.symbols });
    const service = await app.start_feed_service(config, bus);
    log_root.info({ url: `http://${service.server.host}:${service.server.port}/`, symbols: config.symbols }, 'replay feed is up');
    const playing = replay;
    void playing.play();
    stop = async () => { await playing.stop(); await service.stop(); await bus.close(); };
  } else if (command === 'engine') {
    const { start_engine } = await import('../engine/engine.js');
    const bus = await app.open_bus(config, 'depthcast-engine');
    const engine = await start_engine(config, bus);
    stop = async () => { await engine.stop(); await bus.close(); };
  } else {
    const bus = await app.open_bus(config, 'depthcast-feed', config.nats_paths);
    const service = await app.start_feed_service(config, bus);
    log_root.info({ url: `http://${service.server.host}:${service.server.port}/` }, 'feed is up');
    stop = async () => { await service.stop(); await bus.close(); };
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log_root.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    stop().then(() => {
      log_root.flush();
      process.exit(0);
    }, (err: unknown) => {
      log_root.error({ err: (err as Error).message }, 'error during shutdown');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  // The stack names TypeScript lines in the build too (bin/depthcast.mjs turns source maps on).
  log_root.fatal({ err: (err as Error).message, stack: (err as Error).stack }, 'depthcast failed to start');
  process.stderr.write(`depthcast: ${(err as Error).message}\n`);
  process.exit(1);
});
