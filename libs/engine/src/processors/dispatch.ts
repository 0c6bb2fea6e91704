import type { Job } from 'bullmq';
import { JOB, type ActionJobData, type CheckJobData, type CooldownEndJobData, type MachineRef, type TimerJobData, type WebhookJobData } from '@dynamite/domain';
import type { EngineContext } from '../runtime/context';
import { recordActionResult, runFleetAction } from './fleet-action';
import { collectIdleState, collectOldDecisions, collectOldSamples, endCooldown } from './garbage-collection';
import { runPolicyCheck, runPolicyCheckBatch } from './policy-check';
import { reconcile } from './reconcile';
import { deliverWebhook } from './webhook-delivery';

/**
 * Which processor handles which job: one function per queue, so a worker process is only the wiring of BullMQ
 * workers to these.
 */

/** Queue `checks`: policy checks, period expiries and cooldown ends. */
export async function processCheckQueueJob(ctx: EngineContext, job: Job): Promise<unknown> {
  switch (job.name) {
    case JOB.check: {
      const data = job.data as CheckJobData | (MachineRef & { revision: string; receivedAt: number });
      // A check added by a version before batches named one machine.
      const machines = 'machines' in data ? data.machines : [{ service: data.service, policy: data.policy, machine: data.machine }];
      return runPolicyCheckBatch(ctx, machines, { revision: data.revision, receivedAt: data.receivedAt });
    }
    case JOB.timer: {
      const data = job.data as TimerJobData;
      // Promoted early (by hand from the board, or a clock step): a period is never cut short.
      const early = data.at - ctx.clock.now();
      if (early > 5_000) {
        await ctx.jobs.addTimer(data, data.timerId, data.at, ctx.clock.now(), 'early');
        return { outcome: 'rescheduled', at: data.at };
      }
      if (early > 0) await new Promise((r) => setTimeout(r, early));
      return runPolicyCheck(ctx, data, { kind: 'timer', timerId: data.timerId });
    }
    case JOB.cooldownEnd: {
      const data = job.data as CooldownEndJobData;
      return { ended: await endCooldown(ctx, data.service, data.policy, data.decisionId) };
    }
    default: throw new Error(`unknown job ${job.name} on queue ${job.queueName}`);
  }
}

/** Queue `actions`: scale ups and scale downs carried out through fleet. */
export function processActionJob(ctx: EngineContext, job: Job): Promise<unknown> {
  return runFleetAction(ctx, job.data as ActionJobData, job.attemptsMade + 1);
}

/**
 * An action job that failed: counted, logged, and -- when no retry follows (out of attempts, or failed for good by
 * a stall limit) -- recorded as failed in etcd, where it waits for a manual retry from the board.
 */
export async function onActionJobFailed(ctx: EngineContext, job: Job, err: Error): Promise<void> {
  const final = job.attemptsMade >= (job.opts.attempts ?? 1) || (await job.getState().catch(() => 'unknown')) === 'failed';
  const data = job.data as ActionJobData;
  ctx.metrics.fleetActions.inc({ service: data.service, kind: data.kind, result: final ? 'failed' : 'retry' });
  ctx.log.warn({ decisionId: data.decisionId, instance: data.instance, attempt: job.attemptsMade, final, err: err.message }, final ? 'fleet action failed; left in the failed set for a manual retry' : 'fleet action failed; will retry');
  if (final) await recordActionResult(ctx, data, { status: 'failed', error: err.message, result: null });
}

/** Queue `maintenance`: reconcile and the garbage collections. */
export async function processMaintenanceJob(ctx: EngineContext, job: Job): Promise<unknown> {
  switch (job.name) {
    case JOB.reconcile: return reconcile(ctx, { adopt: false, heal: true });
    case JOB.sampleGc: return { deleted: await collectOldSamples(ctx) };
    case JOB.recordGc: return { deleted: await collectOldDecisions(ctx), ...(await collectIdleState(ctx)) };
    default: throw new Error(`unknown job ${job.name} on queue ${job.queueName}`);
  }
}

/** Queue `notifications`: webhook deliveries of decision records. */
export async function processNotificationJob(ctx: EngineContext, job: Job): Promise<unknown> {
  if (job.name !== JOB.webhook) throw new Error(`unknown job ${job.name} on queue ${job.queueName}`);
  return deliverWebhook(ctx, job.data as WebhookJobData, job.attemptsMade + 1);
}
