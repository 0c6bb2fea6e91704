import fs from 'node:fs';
import { keys } from '@dynamite/domain';
import type { ActionRecord } from '@dynamite/store';
import { basePortOf, serviceName, sleep, until, type ScaleStack } from './stack';

/**
 * Actuation: `count` scale ups spread over services, carried out by the engine, against the same units created and
 * launched by a plain loop with the fleet client (one PUT each, then a wait for all): the emulator's own limit,
 * measured in the same run.
 */
export async function plainLoopRate(stack: ScaleStack, count: number): Promise<number> {
  const names = Array.from({ length: count }, (_, i) => `plain${i}@${30_000 + i}.service`);
  const options = [{ section: 'Service', name: 'ExecStart', value: '/bin/sleep 3600' }];
  const started = Date.now();
  for (const name of names) await stack.fleet.submitAndLaunch(name, options);
  await until(async () => {
    const states = await stack.fleet.listUnitStates();
    const active = new Set(states.filter((s) => s.systemdActiveState === 'active').map((s) => s.name));
    return names.every((n) => active.has(n)) ? true : null;
  }, 600_000, `${count} plain units active`, 100);
  const rate = count / ((Date.now() - started) / 1000);
  for (const name of names) await stack.fleet.destroyUnit(name);
  await until(async () => ((await stack.fleet.listUnits()).some((u) => u.name.startsWith('plain')) ? null : true), 120_000, 'plain units gone', 200);
  return rate;
}

/**
 * The engine's rate: a config that raises min_instance of the first `count` services by one, stored by restarting
 * the scheduler with it; the bound repairs decide `count` scale ups, and the rate is count over the time from the
 * first action's decision to the last one's end (action records in etcd).
 */
export async function engineActionRate(stack: ScaleStack, count: number, restartScheduler: (configFile: string) => Promise<void>): Promise<{ rate: number; fleetCallsPerAction: number }> {
  const raised = stack.configFile.replace(/\.yaml$/, '.raised.yaml');
  const text = fs.readFileSync(stack.configFile, 'utf8');
  let n = 0;
  fs.writeFileSync(raised, text.replace(/min_instance: 2\n/g, (m) => (n++ < count ? 'min_instance: 3\n' : m)));
  const since = Date.now();
  await restartScheduler(raised);
  const actions = await until(async () => {
    const list = Object.values(await stack.etcd.getAll().prefix(keys.actionsPrefix).json()) as ActionRecord[];
    const mine = list.filter((a) => a.createdAt >= since && a.kind === 'scale_up');
    return mine.length >= count && mine.every((a) => a.status === 'done') ? mine : null;
  }, 600_000, `${count} scale ups done`, 200);
  const first = Math.min(...actions.map((a) => a.createdAt));
  const last = Math.max(...actions.map((a) => a.finishedAt ?? a.createdAt));
  // Requests fleet received about the new instances' units (the emulator counts them per unit and method).
  const stats = (await (await fetch(`${stack.emulatorUrl}/emulator/stats`)).json()) as { units: Record<string, Record<string, number>> };
  const calls = actions.reduce((sum, a) => sum + Object.values(stats.units[a.instance] ?? {}).reduce((x, y) => x + y, 0), 0);
  return { rate: count / ((last - first) / 1000), fleetCallsPerAction: calls / count };
}

export { basePortOf, serviceName, sleep };
