import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';
import {
  ACTIONS_QUEUE,
  CHECKS_QUEUE,
  JOB,
  MAINTENANCE_QUEUE,
  NOTIFICATIONS_QUEUE,
  type ActionJobData,
  type CheckJobData,
  type CooldownEndJobData,
  type TimerJobData,
  type WebhookJobData,
} from '@dynamite/domain';

export const BOARD_PATH = '/admin/queues';

const QUEUE_TEXT: Record<string, { displayName: string; description: string }> = {
  [CHECKS_QUEUE]: {
    displayName: 'checks',
    description: 'Policy checks of new samples, period timer expiries and cooldown ends (one job per state machine)',
  },
  [ACTIONS_QUEUE]: {
    displayName: 'actions',
    description: 'fleet create/destroy actions, one per scaling decision; a failed one keeps fleet\'s error: retry it here',
  },
  [MAINTENANCE_QUEUE]: {
    displayName: 'maintenance',
    description: 'Reconciliation with fleet, sample and decision-record garbage collection',
  },
  [NOTIFICATIONS_QUEUE]: {
    displayName: 'notifications',
    description: 'Webhook deliveries of decision records (Notifications in the config); a failed one keeps the receiver\'s answer: retry it here',
  },
};

function time(ms: unknown): string {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '?';
}

interface JobJson {
  name?: string;
  data?: unknown;
}

/**
 * The title the board shows for a job: what it is about, readable without opening it. Fleet actions carry the
 * service, the instance (and its attached units), why (policy or bound) and the decision id.
 */
export function jobTitle(job: JobJson): string {
  const name = job.name ?? '';
  const data = (job.data ?? {}) as Record<string, unknown>;
  try {
    switch (name) {
      case JOB.scaleUp:
      case JOB.scaleDown: {
        const a = data as unknown as ActionJobData;
        const attached = Array.isArray(a.attached) && a.attached.length > 0 ? ` (+ ${a.attached.join(', ')})` : '';
        return `${name} ${a.service}: ${a.instance}${attached} | reason ${a.reason} | decision ${a.decisionId}`;
      }
      case JOB.check: {
        const b = data as unknown as CheckJobData;
        const first = b.machines[0];
        const more = b.machines.length > 1 ? ` and ${b.machines.length - 1} more` : '';
        return `${name} ${first ? `${first.service}/${first.policy} machine ${first.machine}` : '(none)'}${more} | sample rev ${b.revision}`;
      }
      case JOB.timer: {
        const t = data as unknown as TimerJobData;
        return `${name} ${t.service}/${t.policy} machine ${t.machine} | expires ${time(t.at)}`;
      }
      case JOB.cooldownEnd: {
        const c = data as unknown as CooldownEndJobData;
        return `${name} ${c.service}/${c.policy} | until ${time(c.until)} | decision ${c.decisionId}`;
      }
      case JOB.webhook: {
        const w = data as unknown as WebhookJobData;
        return `${name} ${w.webhook}: ${w.event} ${w.service} | ${w.record?.outcome ?? '?'} record ${w.record?.id ?? '?'}`;
      }
      default:
        return typeof data.reason === 'string' ? `${name} (${data.reason})` : name;
    }
  } catch {
    return name;
  }
}

/** Bull Board on `/admin/queues` with the engine's four queues; retries from the board are allowed. */
export function createBoardRouter(queues: Queue[], basePath = BOARD_PATH): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  const adapters = queues.map((queue) => {
    const text = QUEUE_TEXT[queue.name] ?? { displayName: queue.name, description: '' };
    const adapter = new BullMQAdapter(queue, { readOnlyMode: false, allowRetries: true, ...text });
    adapter.setFormatter('name', (job: JobJson) => jobTitle(job));
    return adapter;
  });
  createBullBoard({
    queues: adapters,
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'dynamite',
        miscLinks: [
          { text: 'Services (JSON)', url: '/api/services' },
          { text: 'Metrics', url: '/metrics' },
        ],
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}
