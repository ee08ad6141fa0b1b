#!/usr/bin/env node
// The depthcast CLI: `all` (what `npm start` runs), `engine`, `feed`, and
// `token` (mints an access token, docs/OPERATIONS.md).
import { ConfigError, help_text, parse_config, type Command } from '../config.js';
import { log_root } from '../util/log.js';

const commands: readonly Command[] = ['all', 'engine', 'feed'];

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
    const { token_from_args, token_help } = await import('../server/auth.js');
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(token_help + '\n');
      return;
    }
    try {
      process.stdout.write(token_from_args(rest, process.env, Math.floor(Date.now() / 1000)) + '\n');
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
  const config = parsed.config;
  log_root.level = config.log_level;
  // Imported after validation so that --help and bad flags answer fast and never touch sockets.
  const app = await import('../app.js');
  let stop: () => Promise<void>;
  if (command === 'all') {
    if (config.nats_url !== '') log_root.info({ nats_url: config.nats_url }, 'using NATS instead of the embedded bus');
    const all = await app.start_all(config);
    stop = all.stop;
  } else if (command === 'engine') {
    const { start_engine } = await import('../engine/engine.js');
    const bus = await app.open_bus(config, 'depthcast-engine');
    const engine = await start_engine(config, bus);
    stop = async () => { await engine.stop(); await bus.close(); };
  } else {
    const bus = await app.open_bus(config, 'depthcast-feed');
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
  log_root.fatal({ err: (err as Error).message }, 'depthcast failed to start');
  process.stderr.write(`depthcast: ${(err as Error).message}\n`);
  process.exit(1);
});
