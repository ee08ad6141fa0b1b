// The client's side of the WebSocket opening handshake (RFC 6455 §4): the
// upgrade request it writes, and the check of the server's answer (status 101,
// Upgrade/Connection, Sec-WebSocket-Accept from our key, a subprotocol we
// offered, no extension we did not). Runs once per socket; nothing per frame.
import { createHash, randomBytes } from 'node:crypto';

const accept_guid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A server's answer longer than this (headers) is refused. */
export const handshake_bytes_max = 16 * 1024;

export interface UpgradeRequest {
  /** The bytes to write. */
  text: string;
  /** The Sec-WebSocket-Accept the server must answer with. */
  accept: string;
  offered_protocols: readonly string[];
}

export function upgrade_request(url: URL, protocols: readonly string[]): UpgradeRequest {
  const key = randomBytes(16).toString('base64');
  const path = `${url.pathname || '/'}${url.search}`;
  const lines = [
    `GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
  ];
  if (protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${protocols.join(', ')}`);
  return { text: `${lines.join('\r\n')}\r\n\r\n`, accept: createHash('sha1').update(key + accept_guid).digest('base64'), offered_protocols: protocols };
}

export interface UpgradeAnswer {
  /** Empty when the server accepted the upgrade; else why not (ws's wording where it has one). */
  error: string;
  /** The subprotocol the server chose ('' for none). */
  protocol: string;
}

/** Checks the server's answer: `head` is everything before the blank line ending its headers. */
export function check_upgrade(head: string, request: UpgradeRequest): UpgradeAnswer {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
  const refuse = (error: string): UpgradeAnswer => ({ error, protocol: '' });
  if (status === null) return refuse(`not an HTTP response: '${(lines[0] ?? '').slice(0, 80)}'`);
  if (status[1] !== '101') return refuse(`Unexpected server response: ${status[1]}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  if ((headers.get('upgrade') ?? '').toLowerCase() !== 'websocket') return refuse('Invalid Upgrade header');
  if (!(headers.get('connection') ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) return refuse('Invalid Connection header');
  if (headers.get('sec-websocket-accept') !== request.accept) return refuse('Invalid Sec-WebSocket-Accept header');
  if (headers.has('sec-websocket-extensions')) return refuse('Server sent a Sec-WebSocket-Extensions header but no extension was requested');
  const protocol = headers.get('sec-websocket-protocol') ?? '';
  if (protocol !== '' && !request.offered_protocols.includes(protocol)) return refuse('Server sent an invalid subprotocol');
  if (protocol === '' && request.offered_protocols.length > 0) return refuse('Server sent no subprotocol');
  return { error: '', protocol };
}
