// The kernel's share of what a connection has in flight: each TCP socket's
// send queue (bytes written by us, not yet acknowledged by the peer: `ss`'s
// Send-Q), read from /proc/net/tcp and /proc/net/tcp6 for the sockets of one
// local port. uWebSockets.js exposes no file descriptor or getsockopt, so
// this is the only way to see the buffer below uWS's own; elsewhere than
// Linux it reports nothing (an empty list), never a guess.
//
// Cost: reads and parses two /proc files, O(sockets on the machine): for
// /stats and tests, never the hot path.
import { readFileSync } from 'node:fs';

export interface KernelSendQueue {
  /** Remote endpoint as the kernel lists it (hex address:port). */
  remote: string;
  send_queue_bytes: number;
}

const established = '01';

/** Send queues of the established TCP sockets whose local port is `port`. */
export function kernel_send_queues(port: number): KernelSendQueue[] {
  const out: KernelSendQueue[] = [];
  const want = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // not Linux, or no IPv6
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      const f = lines[i].trim().split(/\s+/);
      if (f.length < 5 || f[3] !== established) continue;
      if (f[1].slice(f[1].lastIndexOf(':') + 1) !== want) continue;
      out.push({ remote: f[2], send_queue_bytes: parseInt(f[4].slice(0, f[4].indexOf(':')), 16) });
    }
  }
  return out;
}
