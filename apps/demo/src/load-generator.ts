import http from 'node:http';
import type { Etcd3 } from 'etcd3';
import { parseInstanceTarget } from './targets';

export interface Target {
  uuid: string;
  instance: string;
  port: number;
}

export interface LoadStats {
  /** Requests per second wanted now. */
  offeredRps: number;
  /** 2xx answers in the last second. */
  servedRps: number;
  ok: number;
  /** 503 answers: a saturated instance shedding load. */
  rejected: number;
  /** Connection errors and timeouts (e.g. an instance going away). */
  failed: number;
  /** Not sent because no instance was registered, or too many requests were in flight. */
  dropped: number;
  inFlight: number;
  targets: Target[];
}

/**
 * Open-loop HTTP traffic at the rate `rateAt()` returns, round-robin over the live instances. Live instances are
 * the ones registered in etcd (`<application_base>/<type>/<uuid>/service_instance_name`), re-read twice a second,
 * exactly as a load balancer fed by the registrations would see them.
 */
export class LoadGenerator {
  // More sockets per instance than an instance queues (100): a saturated instance sheds the excess with 503 at
  // once, as a real one would, instead of the excess waiting here and keeping it busy long after the load fell.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
  private targets: Target[] = [];
  private next = 0;
  private credit = 0;
  private lastTick = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly okTimes: number[] = [];
  private stats = { ok: 0, rejected: 0, failed: 0, dropped: 0, inFlight: 0 };
  private offered = 0;

  constructor(
    private readonly etcd: Etcd3,
    private readonly registrationPrefix: string,
    private readonly rateAt: () => number,
    private readonly maxInFlight = 400,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.lastTick = performance.now();
    this.tickTimer = setInterval(() => this.tick(), 20);
    this.refreshTimer = setInterval(() => void this.refresh().catch(() => undefined), 500);
  }

  async refresh(): Promise<void> {
    const all = await this.etcd.getAll().prefix(this.registrationPrefix).strings();
    const found: Target[] = [];
    for (const [key, value] of Object.entries(all)) {
      const rest = key.slice(this.registrationPrefix.length).split('/');
      if (rest.length !== 2 || rest[1] !== 'service_instance_name') continue;
      const target = parseInstanceTarget(rest[0]!, value);
      if (target) found.push(target);
    }
    found.sort((a, b) => a.port - b.port);
    this.targets = found;
  }

  private tick(): void {
    const now = performance.now();
    const dt = (now - this.lastTick) / 1000;
    this.lastTick = now;
    this.offered = this.rateAt();
    this.credit = Math.min(this.credit + this.offered * dt, 50);
    while (this.credit >= 1) {
      this.credit -= 1;
      this.send();
    }
  }

  private send(): void {
    if (this.targets.length === 0 || this.stats.inFlight >= this.maxInFlight) {
      this.stats.dropped += 1;
      return;
    }
    const target = this.targets[this.next % this.targets.length]!;
    this.next = (this.next + 1) % 1_000_000;
    this.stats.inFlight += 1;
    let settled = false;
    const settle = (kind: 'ok' | 'rejected' | 'failed') => {
      if (settled) return;
      settled = true;
      this.stats.inFlight -= 1;
      this.stats[kind] += 1;
      if (kind === 'ok') this.okTimes.push(performance.now());
    };
    const req = http.get({ host: '127.0.0.1', port: target.port, path: '/', agent: this.agent, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode === 200 ? 'ok' : 'rejected'));
      res.on('error', () => settle('failed'));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => settle('failed'));
  }

  snapshot(): LoadStats {
    const cutoff = performance.now() - 1000;
    while (this.okTimes.length > 0 && this.okTimes[0]! < cutoff) this.okTimes.shift();
    return { ...this.stats, offeredRps: this.offered, servedRps: this.okTimes.length, targets: [...this.targets] };
  }

  async stop(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.tickTimer = null;
    this.refreshTimer = null;
    const deadline = Date.now() + 3000;
    while (this.stats.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.agent.destroy();
  }
}
