import type { Job } from 'bullmq';
import {
  JOB,
  jobIds,
  type ActionJobData,
  type CheckJobData,
  type CooldownEndJobData,
  type MachineRef,
  type TimerJobData,
} from '@dynamite/domain';
import type { EngineQueues } from '@dynamite/queues';
import type { ActionRecord } from '@dynamite/store';

/**
 * Every job the engine adds, in one place. Ids come from what the job is about (the state machine, the timer, the
 * decision), so adding a job twice -- after a restart, a Redis wipe, a retry -- never runs the work twice.
 */
export class JobProducer {
  constructor(private readonly queues: EngineQueues) {}

  /** One waiting (and at most one active) check per state machine; the newest request wins. */
  addCheck(data: CheckJobData): Promise<Job> {
    return this.queues.checks.add(JOB.check, data, {
      deduplication: { id: jobIds.checkDedup(data), keepLastIfActive: true },
    });
  }

  addTimer(machine: MachineRef, timerId: string, at: number, now: number): Promise<Job> {
    const data: TimerJobData = { ...machine, timerId, at };
    return this.queues.checks.add(JOB.timer, data, { jobId: jobIds.timer(machine, timerId), delay: Math.max(0, at - now) });
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

  /** The periodic jobs: reconciliation with fleet, sample and decision-record garbage collection. */
  async upsertSchedulers(reconcileEveryMs: number): Promise<void> {
    await this.queues.maintenance.upsertJobScheduler(jobIds.reconcileScheduler, { every: reconcileEveryMs }, { name: JOB.reconcile, data: {} });
    await this.queues.maintenance.upsertJobScheduler(jobIds.sampleGcScheduler, { every: 60_000 }, { name: JOB.sampleGc, data: {} });
    await this.queues.maintenance.upsertJobScheduler(jobIds.recordGcScheduler, { every: 300_000 }, { name: JOB.recordGc, data: {} });
  }

  close(): Promise<void> {
    return this.queues.close();
  }

  get engineQueues(): EngineQueues {
    return this.queues;
  }

  /** A reconciliation right now (at start, after a Redis wipe), besides the periodic ones. */
  addReconcileNow(reason: string): Promise<Job> {
    return this.queues.maintenance.add(JOB.reconcile, { reason }, { jobId: `reconcile-now|${Date.now()}` });
  }
}
