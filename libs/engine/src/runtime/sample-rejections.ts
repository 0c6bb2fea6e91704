import type { EngineContext } from './context';

/**
 * Counts and logs samples that cannot be used, each exactly once: problems with a key by the scheduler (which sees
 * every put and routes by key alone), problems with a value or its order by the worker that evaluates it. Counted
 * in `dynamite_samples_rejected_total{reason}` and in the etcd counter `/_dynamite/stats/samples_rejected_<reason>`
 * (shared by every process); logged at most once a second, with how many lines were held back.
 */
export class SampleRejections {
  private lastLog = 0;
  private heldBack = 0;

  constructor(private readonly ctx: Pick<EngineContext, 'metrics' | 'store' | 'log'>) {}

  reject(reason: string, key: string, message: string): void {
    this.ctx.metrics.samplesRejected.inc({ reason });
    void this.ctx.store.incrementStat(`samples_rejected_${reason}`).catch(() => undefined);
    const now = Date.now();
    if (now - this.lastLog >= 1000) {
      this.ctx.log.warn({ key, reason, suppressed: this.heldBack }, `bad sample skipped: ${message}`);
      this.lastLog = now;
      this.heldBack = 0;
    } else {
      this.heldBack += 1;
    }
  }
}
