import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/ports';

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  child: ChildProcess | null;
}

/**
 * A real etcd cluster of `size` members on free loopback ports (`--initial-cluster`), in one temp folder. A member can
 * be SIGKILLed and started again on its data dir; stop() ends every member and removes the folder.
 */
export class EtcdCluster {
  private constructor(readonly dir: string, readonly members: Member[]) {}

  static async start(size = 3): Promise<EtcdCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-etcd-cluster-'));
    const members: Member[] = [];
    for (let i = 0; i < size; i += 1) members.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), child: null });
    const cluster = new EtcdCluster(dir, members);
    try {
      for (const m of members) cluster.launch(m);
      await Promise.all(members.map((m) => cluster.waitHealthy(m)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `host:port,host:port,...` as `-e` takes it. */
  get endpoint(): string {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  }

  get hosts(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  }

  private launch(m: Member): void {
    const peer = (x: Member) => `http://127.0.0.1:${x.peerPort}`;
    const client = `http://127.0.0.1:${m.clientPort}`;
    const log = fs.openSync(path.join(this.dir, `${m.name}.log`), 'a');
    m.child = spawn(process.env.ETCD_BIN ?? 'etcd', [
      '--name', m.name, '--data-dir', path.join(this.dir, m.name), '--logger=zap', '--log-level=warn',
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer(m), '--initial-advertise-peer-urls', peer(m),
      '--initial-cluster', this.members.map((x) => `${x.name}=${peer(x)}`).join(','),
      '--initial-cluster-state', 'new', '--initial-cluster-token', path.basename(this.dir),
    ], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
  }

  private async waitHealthy(m: Member, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${m.clientPort}/health`, { signal: AbortSignal.timeout(1_000) });
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not up yet
      }
      if (m.child?.exitCode !== null && m.child?.exitCode !== undefined) throw new Error(`etcd ${m.name} exited with ${m.child.exitCode} (see ${this.dir}/${m.name}.log)`);
      if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The member that is the raft leader now. */
  async leader(): Promise<number> {
    for (const [i, m] of this.members.entries()) {
      if (!m.child) continue;
      try {
        const res = await fetch(`http://127.0.0.1:${m.clientPort}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1_000) });
        const body = (await res.json()) as { header: { member_id: string }; leader: string };
        if (body.header.member_id === body.leader) return i;
      } catch {
        // down
      }
    }
    throw new Error('no etcd member is leader');
  }

  async kill(i: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.members[i]!.child;
    this.members[i]!.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill(sig); });
  }

  /** Starts a killed member again on its data dir; resolves when the cluster answers through it. */
  async restart(i: number): Promise<void> {
    const m = this.members[i]!;
    this.launch(m);
    await this.waitHealthy(m);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((_, i) => this.kill(i, 'SIGTERM')));
    if (!process.env.DYNAMITE_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
