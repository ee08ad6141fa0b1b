// What the tools need to know about this host, read one way for all of them:
// a free loopback port, and a process's CPU time and resident memory from
// /proc. Used by the load generator (--server-pid), the benches, the soak and
// fuzz scripts and the tests. Node and Linux only: never import it from
// src/client or src/ui (they run in browsers).
//
// Cost: a syscall or two per call (a listen/close; one small /proc read);
// for sampling a few times a second, not per message.
//
// Invariants: CPU time is user + system of every thread of the process, in
// seconds (USER_HZ ticks / 100); RSS is bytes. A process that is gone reads
// as null, never as 0.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
export const clock_ticks_per_s = 100;

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may take it before you do). */
export function free_port(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

/** utime + stime of a process, all threads, in seconds; null when it cannot be read (gone, not ours). */
export function process_cpu_s(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces and ')') start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clock_ticks_per_s;
  } catch {
    return null;
  }
}

/** Resident set size of a process in bytes (VmRSS); null when it cannot be read. */
export function process_rss_bytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}
