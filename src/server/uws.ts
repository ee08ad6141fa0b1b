// uWebSockets.js, guaranteed native. The npm package silently falls back to a
// slow JS shim when its binary does not load; we load the binary for this
// platform/ABI ourselves and refuse to run if the default import is not it.
// Also: listen_owning_port (no SO_REUSEPORT: one service per port).
import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);
const binary_path = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;

let native: unknown;
try {
  native = require(binary_path);
} catch (err) {
  throw new Error(`native uWebSockets.js binary not loadable (${binary_path}): ${(err as Error).message}. ` +
    'It exists for Node 16/18/20 only: run on Node 20.', { cause: err });
}
const shim_check = (uWS as unknown as { App: unknown }).App;
if (shim_check !== (native as { App: unknown }).App) {
  throw new Error('uWebSockets.js default import is not the native binary (JS fallback loaded); refusing to run');
}

export default uWS;
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';

type ListenCallback = (listen_socket: us_listen_socket | false) => void;
/** uSockets' option to bind without SO_REUSEPORT (its typings list the option but not this overload of listen). */
const listen_exclusive_port = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;

/**
 * app.listen(host, port), owning the port. By default uSockets sets
 * SO_REUSEPORT on a listening socket: a second service started on the same
 * port would then listen without an error and the kernel would split new
 * connections between the two processes. SO_REUSEADDR stays on, so a service
 * restarted on its port binds at once even while the connections it closed
 * sit in TIME-WAIT. (Port 0 picks a free port either way.)
 */
export function listen_owning_port(app: TemplatedApp, host: string, port: number, callback: ListenCallback): void {
  (app as unknown as { listen(host: string, port: number, options: number, cb: ListenCallback): void }).listen(host, port, listen_exclusive_port, callback);
}
