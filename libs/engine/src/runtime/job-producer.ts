import type { Job } from 'bullmq';
import {
  JOB,
  jobIds,
  type ActionJobData,
  type CheckJobData,
  type CooldownEndJobData,
  type MachineRef,
  type TimerJobData,
  type WebhookJobData,
} from '@dynamite/domain';
import { lookupReceipts, recordReceipts, trimReceipts, type JobQueues } from '@dynamite/queues';
import type { ActionRecord } from '@dynamite/store';

/**
 * Machines per batch job: enough that one job's reads and commit are a few etcd transactions (each holds at most
 * 128 operations: two guards per machine), few enough that several workers share a burst.
 */
export const CHECK_BATCH_SIZE = 48;

/**
 * Every job the engine adds, in one place. Ids come from what the job is about (the state machine, the timer, the
 * decision), so adding a job twice -- after a restart, a Redis wipe, a retry -- never runs the work twice.
 */
export class JobProducer {
  constructor(private readonly queues: JobQueues) {}

  /**
   * Adds the checks of a batch of sample events as jobs of at most `perJob` machines each, in one round trip. They
   * are not deduplicated: each reads the samples after its machines' cursors, so a job that runs after another
   * covered its samples finds nothing new and writes nothing.
   */
  async addChecks(machines: MachineRef[], at: { revision: string; receivedAt: number }, perJob = CHECK_BATCH_SIZE): Promise<number> {
    const jobs = [];
    for (let i = 0; i < machines.length; i += perJob) {
      const data: CheckJobData = { machines: machines.slice(i, i + perJob), revision: at.revision, receivedAt: at.receivedAt };
      // Prioritized (BullMQ takes plain waiting jobs first): a period expiry never waits behind a backlog of checks.
      jobs.push({ name: JOB.check, data, opts: { priority: 1 } });
    }
    if (jobs.length > 0) await this.queues.checks.addBulk(jobs);
    return jobs.length;
  }

  /** Notes when the scheduler received the samples written at `revisions` (see libs/queues/src/receipts.ts). */
  recordReceipts(revisions: string[], receivedAt: number): Promise<void> {
    return recordReceipts(this.queues.connection, this.queues.prefix, revisions, receivedAt);
  }

  /** Receipt times of sample revisions, null where unknown (never throws: a lost receipt only costs precision). */
  async receiptsOf(revisions: string[]): Promise<(number | null)[]> {
    try {
      return await lookupReceipts(this.queues.connection, this.queues.prefix, revisions);
    } catch {
      return revisions.map(() => null);
    }
  }

  trimReceipts(now: number): Promise<void> {
    return trimReceipts(this.queues.connection, this.queues.prefix, now);
  }

  async addTimer(machine: MachineRef, timerId: string, at: number, now: number, suffix?: string): Promise<Job> {
    const data: TimerJobData = { service: machine.service, policy: machine.policy, machine: machine.machine, timerId, at };
    const jobId = suffix ? `${jobIds.timer(machine, timerId)}|${suffix}` : jobIds.timer(machine, timerId);
    const job = await this.queues.checks.add(JOB.timer, data, { jobId, delay: Math.max(0, at - now) });
    this.promoteAt(jobId, at - now);
    return job;
  }

  /** Delayed timer jobs this process promotes at their time, by job id. */
  private readonly promotions = new Map<string, NodeJS.Timeout>();

  /**
   * Redis wakes a worker blocked on a delayed job only at its own timer resolution (`hz 10`: up to 100 ms late), so
   * the process that adds a timer also promotes its job at the time. The delayed job stays the guarantee: when this
   * process is gone by then, Redis's wake-up runs it, a little late.
   */
  private promoteAt(jobId: string, inMs: number): void {
    clearTimeout(this.promotions.get(jobId));
    if (inMs <= 0) return;
    const timer = setTimeout(() => {
      this.promotions.delete(jobId);
      // Already promoted, running or gone (cancelled): nothing to do.
      void this.queues.checks.getJob(jobId).then((job) => job?.promote()).catch(() => undefined);
    }, inMs);
    timer.unref();
    this.promotions.set(jobId, timer);
  }

  /**
   * Makes sure an armed timer has a delayed job: adds it when missing, and retries it when it sits in the failed
   * set (a job id in the failed set makes `add` a no-op, which would lose the timer).
   */
  async ensureTimer(machine: MachineRef, timerId: string, at: number, now: number): Promise<void> {
    const job = await this.queues.checks.getJob(jobIds.timer(machine, timerId));
    if (!job) {
      await this.addTimer(machine, timerId, at, now);
      return;
    }
    this.promoteAt(job.id!, at - now);
    // A timer promoted early was re-added as `...|early` (see the worker); that job is the live one then.
    const rescheduled = await this.queues.checks.getJob(`${jobIds.timer(machine, timerId)}|early`);
    for (const candidate of [job, rescheduled]) {
      if (candidate && (await candidate.getState()) === 'failed') await candidate.retry('failed');
    }
  }

  async cancelTimer(machine: MachineRef, timerId: string): Promise<void> {
    clearTimeout(this.promotions.get(jobIds.timer(machine, timerId)));
    this.promotions.delete(jobIds.timer(machine, timerId));
    // Best effort: a timer that still fires finds another (or no) armed timer and does nothing.
    try {
      await this.queues.checks.remove(jobIds.timer(machine, timerId));
    } catch {
      // The job may be active right now; it will no-op.
    }
  }

  addCooldownEnd(data: CooldownEndJobData, now: number): Promise<Job> {
    return this.queues.checks.add(JOB.cooldownEnd, data, {
      jobId: jobIds.cooldownEnd(data.service, data.policy, data.decisionId),
      delay: Math.max(0, data.until - now),
    });
  }

  addAction(action: ActionRecord): Promise<Job> {
    const data: ActionJobData = {
      service: action.service,
      decisionId: action.decisionId,
      kind: action.kind,
      instance: action.instance,
      attached: action.attached,
      reason: action.reason,
    };
    return this.queues.actions.add(action.kind === 'scale_up' ? JOB.scaleUp : JOB.scaleDown, data, {
      jobId: jobIds.action(action.decisionId),
    });
  }

  /**
   * Makes sure a pending action has its job. Returns the job's failure when the job already failed for good (its
   * failure could not be recorded in etcd then; the caller records it now).
   */
  async ensureAction(action: ActionRecord): Promise<{ failed: string } | null> {
    const job = await this.queues.actions.getJob(jobIds.action(action.decisionId));
    if (!job) {
      await this.addAction(action);
      return null;
    }
    const state = await job.getState();
    if (state === 'failed') return { failed: job.failedReason || 'failed' };
    if (state === 'completed') {
      // Completed in Redis but still pending in etcd: its last commit was lost; run it again (it is idempotent).
      await job.remove().catch(() => undefined);
      await this.addAction(action);
    }
    return null;
  }

  /** Webhook deliveries, one job per webhook and record (a record committed again adds nothing: same id). */
  async addWebhooks(deliveries: WebhookJobData[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.queues.notifications.addBulk(deliveries.map((data) => ({
      name: JOB.webhook,
      data,
      opts: { jobId: jobIds.webhook(data.webhook, data.service, data.record.id) },
    })));
  }

  /** The periodic jobs: reconciliation with fleet, sample and decision-record garbage collection. */
  async upsertSchedulers(reconcileEveryMs: number): Promise<void> {
    await this.queues.maintenance.upsertJobScheduler(jobIds.reconcileScheduler, { every: reconcileEveryMs }, { name: JOB.reconcile, data: {} });
    await this.queues.maintenance.upsertJobScheduler(jobIds.sampleGcScheduler, { every: 60_000 }, { name: JOB.sampleGc, data: {} });
    await this.queues.maintenance.upsertJobScheduler(jobIds.recordGcScheduler, { every: 300_000 }, { name: JOB.recordGc, data: {} });
  }

  close(): Promise<void> {
    for (const timer of this.promotions.values()) clearTimeout(timer);
    this.promotions.clear();
    return this.queues.close();
  }

  get jobQueues(): JobQueues {
    return this.queues;
  }
}
