// A 3-node nats-server cluster with JetStream on loopback (DESIGN.md §3): each
// node on a random client port and a random cluster port, routes to all three,
// its own store directory. Resolves once every node is ready and the cluster
// has a JetStream metadata leader (before that, creating a stream fails).
// Nodes can be killed (SIGKILL: no goodbye to the cluster) and started again
// on the same ports with the same store, to lose one node mid-stream.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { free_port } from '../../src/util/host.js';
import { launch_nats_server } from './nats_server.js';

export interface ClusterNode {
  /** Server name (-n), as JetStream reports a stream's leader. */
  name: string;
  url: string;
  running: boolean;
}

export interface NatsClusterHandle {
  nodes: ClusterNode[];
  /** Every node's client URL, comma-separated (what --nats-url takes). */
  urls: string;
  kill(name: string): Promise<void>;
  start(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** How long the cluster may take to elect its JetStream metadata leader. */
const meta_leader_wait_ms = 15_000;

export async function start_nats_cluster(size = 3): Promise<NatsClusterHandle> {
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => free_port()));
  const routes = Array.from({ length: size }, (_, i) => `nats://127.0.0.1:${ports[size + i]}`).join(',');
  const nodes = Array.from({ length: size }, (_, i) => ({
    name: `n${i + 1}`,
    url: `nats://127.0.0.1:${ports[i]}`,
    running: false,
    store_dir: mkdtempSync(join(tmpdir(), `depthcast-nats-n${i + 1}-`)),
    args: ['-a', '127.0.0.1', '-p', String(ports[i]), '-n', `n${i + 1}`, '--cluster_name', 'dc',
      '--cluster', `nats://127.0.0.1:${ports[size + i]}`, '--routes', routes, '-js'],
    child: null as ChildProcess | null,
    output: '',
  }));
  const start = async (node: (typeof nodes)[number]): Promise<void> => {
    node.output = '';
    node.child = await launch_nats_server(node.args, node.store_dir);
    node.child.stdout?.on('data', (c: Buffer) => { node.output += c.toString(); });
    node.child.stderr?.on('data', (c: Buffer) => { node.output += c.toString(); });
    node.running = true;
  };
  const kill = async (node: (typeof nodes)[number]): Promise<void> => {
    const child = node.child;
    node.running = false;
    if (child === null || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
    node.child = null;
  };
  const by_name = (name: string) => {
    const node = nodes.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  };
  // All at once: a node waits for its routes before it reports JetStream ready.
  await Promise.all(nodes.map(start));
  const deadline = Date.now() + meta_leader_wait_ms;
  while (!nodes.some((n) => /metadata leader/i.test(n.output))) {
    if (Date.now() > deadline) throw new Error(`no JetStream metadata leader after ${meta_leader_wait_ms} ms:\n${nodes.map((n) => n.output).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const public_nodes: ClusterNode[] = nodes;
  return {
    nodes: public_nodes,
    urls: nodes.map((n) => n.url).join(','),
    kill: (name) => kill(by_name(name)),
    start: (name) => start(by_name(name)),
    async stop() {
      await Promise.all(nodes.map(kill));
      for (const n of nodes) rmSync(n.store_dir, { recursive: true, force: true });
    },
  };
}
