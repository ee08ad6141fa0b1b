// Not a bench (nothing compared or written to bench/results): profiles the
// servers of e2e/fanout in its own workload, to see where depthcast's CPU
// per frame goes beyond bare uWS `app.publish` (issue 23). Starts a depthcast
// and a uws pair of the fanout harness (N clients × the views of --depths,
// saturation windows, servers on core 0, clients on core 1), runs one
// unmeasured window each, then --rounds rounds (order alternating) with
// `perf` attached to the server process for each window:
//   default        perf record -e cpu-clock -g -F 999 → <out>_<kind>_<round>.data
//                  (start with BENCH_SERVER_NODE_FLAGS=--perf-basic-prof for JS names)
//   --stat         perf stat of send/receive/poll syscalls and task-clock →
//                  <out>_<kind>_<round>.stat (writes per frame, pongs read)
// Each window's frames/s, µs/frame and the feed's probe counts are printed;
// read the profiles with `perf report -i <file> --no-children --sort dso`.
// Cost: the perf overhead (a few %) is on both servers alike; a busy box
// shows as run-queue wait in the window lines of e2e/fanout, not here.
// Needs `perf` (linux-perf) and kernel.perf_event_paranoid ≤ 2.
// Run: npx tsx bench/e2e/fanout_profile.ts [--clients N] [--depths 10,50,0] [--rounds N] [--measure-s S] [--stat] [--out /tmp/fanout_prof]
import './harness/quiet.js';
import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has_flag, string_flag } from '../../src/util/flags.js';
import { arg, list_arg } from './harness/args.js';
import { Pair, prime_ticks_default } from './harness/orchestrate.js';
import { make_recording, save_recording } from './harness/recording.js';
import { ticks_per_s_max_default } from './harness/setup.js';
import type { TargetKind } from './harness/target.js';

const argv = process.argv.slice(2);
const clients = arg('--clients', 500);
const rounds = arg('--rounds', 2);
const measure_s = arg('--measure-s', 3);
const warmup_s = 1;
const depths = list_arg('--depths', [10]);
const stat = has_flag(argv, '--stat');
const out = string_flag(argv, '--out', '/tmp/fanout_prof');
const kinds: TargetKind[] = ['depthcast', 'uws'];
const stat_events = 'syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_pwait,task-clock';

const dir = mkdtempSync(join(tmpdir(), 'depthcast-fanout-profile-'));
try {
  const ticks = Math.ceil(ticks_per_s_max_default(clients) * (warmup_s + measure_s) * (rounds + 1) * 1.3) + prime_ticks_default;
  const recording = await make_recording(ticks, 8, depths);
  const path = join(dir, 'recording.bin');
  save_recording(path, recording);
  const pairs: { kind: TargetKind; pair: Pair; pid: number }[] = [];
  try {
    for (const kind of kinds) {
      // One at a time, so the newest server_main process is this pair's server ('[s]' keeps pgrep's own shell out).
      const pair = await Pair.start({ kind, clients, sample_every: 10, recording_path: path, views: recording.meta.views });
      const pid = Number(execSync("pgrep -n -f '[s]erver_main.ts'").toString().trim());
      pairs.push({ kind, pair, pid });
      process.stdout.write(`  ${kind} server pid ${pid}\n`);
    }
    const w = { mode: 'saturation' as const, ticks_per_s: 0, window_ticks: 100, warmup_s, measure_s };
    for (const p of pairs) await p.pair.window(w); // warm-up, not profiled
    for (let r = 0; r < rounds; r++) {
      for (const p of r % 2 === 0 ? pairs : [...pairs].reverse()) {
        const file = `${out}_${p.kind}_${r}.${stat ? 'stat' : 'data'}`;
        const args = stat
          ? ['stat', '-x', ',', '-e', stat_events, '-p', String(p.pid), '-o', file]
          : ['record', '-e', 'cpu-clock', '-g', '-F', '999', '-p', String(p.pid), '-o', file];
        const perf = spawn('perf', args, { stdio: ['ignore', 'ignore', 'inherit'] });
        const exited = new Promise((resolve) => perf.on('exit', resolve)); // before the kill: perf may be gone already
        const t = await p.pair.window(w);
        perf.kill('SIGINT');
        await exited;
        process.stdout.write(`  round ${r} ${p.kind}: ${Math.round(t.delivered_frames_per_s)} frames/s, ${t.server_cpu_us_per_frame} µs server CPU/frame, ` +
          `${JSON.stringify(t.server_counts_per_s)} per s → ${file}\n`);
      }
    }
  } finally {
    for (const p of pairs) await p.pair.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
