import type { ChaosReport } from './chaos';

/** The report as the run prints it: faults by kind, checks made, violations, failover times, what the engine did. */
export function formatReport(r: ChaosReport): string {
  const out: string[] = [];
  const table = (head: string[], rows: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
    out.push(line(head), ...rows.map(line), '');
  };
  out.push(`chaos report: seed ${r.seed}, ${r.seconds} s of faults (wall ${r.wallSeconds} s), leader TTL ${r.ttlSeconds} s`, '');
  table(['fault', 'injected'], Object.entries(r.faults).map(([k, n]) => [k, String(n)]));
  table(['check', 'made', 'violations'], Object.entries(r.checks).sort().map(([k, n]) => [k, String(n), String(r.violations.filter((v) => v.check === k).length)]));
  const failed = r.violations.filter((v) => !(v.check in r.checks));
  if (failed.length > 0) table(['other', 'violations'], [...new Set(failed.map((v) => v.check))].map((k) => [k, String(failed.filter((v) => v.check === k).length)]));

  if (r.failovers.length > 0) {
    const ms = (n: number | null) => (n === null ? '-' : `${n} ms`);
    table(['leader fault', 'elected after', 'watching samples after', 'other faults meanwhile'], r.failovers.map((f) => [`#${f.faultId} ${f.kind} (${f.slot})`, ms(f.electedMs), ms(f.watchingMs), f.during.join(', ')]));
  }
  const actions = Object.entries(r.actions).flatMap(([service, kinds]) => Object.entries(kinds).map(([k, n]) => [service, k, String(n)]));
  table(['service', 'action', 'count'], actions);
  table(['decision records', 'count'], Object.entries(r.decisions).sort().map(([k, n]) => [k, String(n)]));
  out.push(`samples: ${r.load.written} written (${r.load.failed} writes failed, ${r.load.skipped} skipped while etcd was down), ${r.load.sampleRewrites} rewritten by client retries; rejected: ${JSON.stringify(r.rejectedSamples)}`);
  if (r.failedActions.length > 0) out.push(`failed actions (recorded failures): ${r.failedActions.map((a) => `${a.service}/${a.decisionId} ${a.kind} ${a.instance}: ${a.error}`).join('; ')}`);
  if (r.crashes.length > 0) out.push(`processes that exited on their own (started again): ${r.crashes.map((c) => `${c.slot} at +${(c.atMs / 1000).toFixed(1)} s code ${c.code}: ${c.lastLine}`).join('; ')}`);
  out.push('');
  if (r.violations.length === 0) out.push('violations: none');
  else {
    out.push(`violations: ${r.violations.length}`);
    for (const v of r.violations) out.push(`  +${(v.atMs / 1000).toFixed(1)} s [${v.check}] ${v.detail}`);
  }
  if (r.logsDir) out.push(`engine logs kept in ${r.logsDir}`);
  return out.join('\n');
}
