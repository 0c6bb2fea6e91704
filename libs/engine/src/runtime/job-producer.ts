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
 * Every job the engine adds, in one place. Ids come from what the job is about (the state machine, the timer, the
 * decision), so adding a job twice -- after a restart, a Redis wipe, a retry -- never runs the work twice.
 */
export class JobProducer {
  constructor(private readonly queues: JobQueues) {}

  /**
   * Adds checks in one round trip (addBulk), each deduplicated per state machine: while one waits, later requests
   * are dropped (the waiting check reads every sample after its machine's cursor, so it covers them); while one
   * runs, the newest request is kept to run after it.
   */
  async addChecks(checks: CheckJobData[]): Promise<void> {
    if (checks.length === 0) return;
    await this.queues.checks.addBulk(checks.map((data) => ({
      name: JOB.check,
      data,
      // Prioritized (BullMQ takes plain waiting jobs first): a period expiry never waits behind a backlog of checks.
      opts: { priority: 1, deduplication: { id: jobIds.checkDedup(data), keepLastIfActive: true } },
    })));
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

  /** The (revision, time) the waiting check of a machine carries, if one waits: the receipt time of its samples. */
  async pendingCheckHint(machine: MachineRef): Promise<{ revision: string; receivedAt: number } | null> {
    const id = await this.queues.checks.getDeduplicationJobId(jobIds.checkDedup(machine));
    if (!id) return null;
    const job = await this.queues.checks.getJob(id);
    const data = job?.data as CheckJobData | undefined;
    return data && typeof data.revision === 'string' && typeof data.receivedAt === 'number' ? { revision: data.revision, receivedAt: data.receivedAt } : null;
  }

  addTimer(machine: MachineRef, timerId: string, at: number, now: number, suffix?: string): Promise<Job> {
    const data: TimerJobData = { service: machine.service, policy: machine.policy, machine: machine.machine, timerId, at };
    const jobId = suffix ? `${jobIds.timer(machine, timerId)}|${suffix}` : jobIds.timer(machine, timerId);
    return this.queues.checks.add(JOB.timer, data, { jobId, delay: Math.max(0, at - now) });
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
    // A timer promoted early was re-added as `...|early` (see the worker); that job is the live one then.
    const rescheduled = await this.queues.checks.getJob(`${jobIds.timer(machine, timerId)}|early`);
    for (const candidate of [job, rescheduled]) {
      if (candidate && (await candidate.getState()) === 'failed') await candidate.retry('failed');
    }
  }

  async cancelTimer(machine: MachineRef, timerId: string): Promise<void> {
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
    return this.queues.close();
  }

  get jobQueues(): JobQueues {
    return this.queues;
  }
}
