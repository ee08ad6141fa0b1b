// depthcast/client/node: the SDK's lean WebSocket for Node (socket.ts), for
// processes that run many clients (load generators, bots, recorders):
//
//   import { connect } from 'depthcast/client';
//   import { NodeWebSocket } from 'depthcast/client/node';
//   const client = connect('ws://127.0.0.1:8080/ws', { WebSocket: NodeWebSocket });
//
// Why a separate entry: it imports node:net, node:tls and node:crypto, which a
// browser bundle must never see; `depthcast/client` stays free of them (CI's
// size check bundles it for a browser). Cost per received frame: one parse in
// place and one onmessage call (bench/e2e/client_cost, kind sdk_net).
import type { WebSocketConstructor } from '../connection.js';
import { NodeWebSocket, type NodeWebSocketOptions } from './socket.js';

export { NodeWebSocket, type NodeWebSocketOptions } from './socket.js';
export type { WebSocketConstructor, WebSocketLike } from '../connection.js';

/** A WebSocket constructor for connect(url, { WebSocket }) whose sockets all use `options` (e.g. a source address). */
export function node_websocket(options: NodeWebSocketOptions): WebSocketConstructor {
  return class extends NodeWebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, options);
    }
  };
}
