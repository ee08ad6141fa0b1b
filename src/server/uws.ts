// uWebSockets.js, guaranteed native. The npm package silently falls back to a
// slow JS shim when its binary does not load; we load the binary for this
// platform/ABI ourselves and refuse to run if the default import is not it.
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
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
