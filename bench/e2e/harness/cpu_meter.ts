// CPU used by a server process (every thread, from /proc) and by this
// process, each as a share of one core, between two take()s: how busy each
// side of a bench was over a window.
//
// Cost: one /proc read and one process.cpuUsage() per take().
import { round } from '../../lib.js';
import { cpu_seconds } from './orchestrate.js';

export interface CpuShares {
  server_cpu_share: number;
  clients_cpu_share: number;
}

/** CPU used by the server process (every thread) and by this process, as a share of one core, between two take()s. */
export class CpuMeter {
  private server_cpu_s: number;
  private self = process.cpuUsage();
  private at = performance.now();

  constructor(private readonly pid: number) {
    this.server_cpu_s = cpu_seconds(pid);
  }

  take(): CpuShares {
    const now = performance.now();
    const server_cpu_s = cpu_seconds(this.pid);
    const self = process.cpuUsage();
    const wall_s = (now - this.at) / 1000;
    const out = {
      server_cpu_share: round((server_cpu_s - this.server_cpu_s) / wall_s, 2),
      clients_cpu_share: round((self.user - this.self.user + self.system - this.self.system) / 1e6 / wall_s, 2),
    };
    this.server_cpu_s = server_cpu_s;
    this.self = self;
    this.at = now;
    return out;
  }
}
