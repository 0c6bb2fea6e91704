import { Option, type Command } from 'commander';
import { DECISIONS_LIMIT, decisionView, listServiceNames, serviceExists, type DecisionView } from '@dynamite/operator';
import { UsageError } from '../errors';
import { addEtcdOption } from '../options';
import { addEtcdSecurityOptions } from '../daemon-options';
import { table, withEngineStore, type EtcdReadFlags } from './status';

type HistoryFlags = EtcdReadFlags & { limit: string };

export function parseLimit(value: string): number {
  if (!/^\d{1,7}$/.test(value.trim()) || Number(value) < DECISIONS_LIMIT.min || Number(value) > DECISIONS_LIMIT.max) {
    throw new UsageError(`--limit: must be an integer from ${DECISIONS_LIMIT.min} to ${DECISIONS_LIMIT.max} (got "${value}")`);
  }
  return Number(value);
}

function localTime(ms: number): string {
  // ISO without milliseconds, in UTC: sortable and the same on every machine.
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function actionText(d: DecisionView): string {
  if (!d.action) return '-';
  const attached = d.action.attached.length > 0 ? ` +${d.action.attached.length}` : '';
  // A step of several instances: every one of them (their attached units are in --json).
  if (d.actions && d.actions.length > 1) return `${d.action.kind === 'scale_up' ? 'up' : 'down'} ${d.actions.map((a) => a.instance).join(', ')}`;
  return `${d.action.kind === 'scale_up' ? 'up' : 'down'} ${d.action.instance}${attached}`;
}

export function renderHistory(service: string, decisions: DecisionView[]): string {
  if (decisions.length === 0) return `no decisions recorded for ${service}\n`;
  const rows = decisions.map((d) => [
    localTime(d.at),
    d.outcome,
    d.reason ?? '-',
    d.policy ?? '-',
    actionText(d),
    d.message,
  ]);
  return `${table(['TIME', 'OUTCOME', 'REASON', 'POLICY', 'ACTION', 'MESSAGE'], rows)}\n`;
}

/**
 * `dynamite history SERVICE [--limit N] [-e ETCD] [--json]`: the service's decision records, newest first: every
 * arm, disarm, fire, suppression (with its reason), bound repair and fleet action result.
 */
export function register(program: Command): void {
  const cmd = program
    .command('history')
    .description('decision records of a service, newest first: why it scaled, or did not')
    .argument('<service>', 'service name (as under Service: in the config)')
    .addOption(new Option('--limit <n>', `how many records (${DECISIONS_LIMIT.min}..${DECISIONS_LIMIT.max})`).default('20'))
    .option('--json', 'print JSON (the records as stored, plus an ISO `time`)');
  addEtcdSecurityOptions(addEtcdOption(cmd));
  cmd.action(async (service: string, flags: HistoryFlags) => {
    const limit = parseLimit(flags.limit);
    const decisions = await withEngineStore(flags, async (store, config) => {
      if (!(await serviceExists(store, config, service))) {
        const known = (await listServiceNames(store, config)).map((s) => s.name);
        throw new UsageError(`unknown service "${service}"; services: ${known.join(', ') || '(none)'}`);
      }
      return (await store.listDecisions(service, limit)).map(decisionView);
    });
    process.stdout.write(flags.json ? `${JSON.stringify({ service, decisions }, null, 2)}\n` : renderHistory(service, decisions));
  });
}
