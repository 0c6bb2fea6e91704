import { Etcd3 } from 'etcd3';
import type { HttpCredentials } from '@dynamite/operator';
import { failIfAChildDied, say, type DemoRun } from './demo-run';
import { chooseEtcd, chooseRedis } from './infra';
import { listenerCredentials, listenerLines, operatorListener, type OperatorListener } from './listener';
import { decisionLine } from './live-view';
import { freePort, freePortRange, waitFor } from './net';
import { Observer } from './observer';
import { DYNAMITE_BIN } from './paths';
import { renderDemo, SERVICE, type RenderedDemo } from './render';
import { DEMO_DEFAULTS } from './settings';

const STARTUP_TIMEOUT_MS = 90_000;

/**
 * Redis and etcd (existing ones when free, else private ones) and the run's config and unit files (for instances on
 * ports from `basePort`). First of all, whether the scheduler's listener would take the credentials of the environment.
 */
export async function startInfrastructure(run: DemoRun): Promise<{ credentials: HttpCredentials | null; rendered: RenderedDemo; basePort: number }> {
  const credentials = listenerCredentials();
  // Redis first: its check is quick, and a Redis that does not answer should not cost an etcd start.
  const redisChoice = await chooseRedis(run.settings.redisUrl, run.children, run.runDir, run.abort.signal);
  run.redisChoice = redisChoice;
  const etcdChoice = await chooseEtcd(run.settings.etcdEndpoint, run.children, run.runDir, run.abort.signal);
  run.etcdChoice = etcdChoice;
  say(run, `  ${etcdChoice.note}`, `  ${redisChoice.note}`);

  const basePort = await freePortRange(4);
  const rendered = renderDemo(
    { runDir: run.runDir, keyRoot: run.keyRoot, basePort, etcdHosts: etcdChoice.hosts, parentPid: process.pid },
    {
      costMs: DEMO_DEFAULTS.costMs,
      workMs: DEMO_DEFAULTS.workMs,
      maxQueue: 100,
      sampleEveryMs: 500,
      registrationTtlSec: 5,
      sampleTtlSec: 15,
    },
  );
  run.rendered = rendered;
  return { credentials, rendered, basePort };
}

/** The fleet emulator: runs each unit's ExecStart as a local process. Returns its port once it answers. */
export async function startFleetEmulator(run: DemoRun): Promise<{ fleetPort: number }> {
  const fleetPort = await freePort();
  const fleetUrl = `http://127.0.0.1:${fleetPort}`;
  const emulator = run.children.start('fleet-emulator', process.execPath, [DYNAMITE_BIN, 'fleet-emulator', '--listen', `127.0.0.1:${fleetPort}`]);
  run.emulator = emulator;
  await waitFor('fleet emulator answering', async () => {
    failIfAChildDied(run);
    try {
      return (await fetch(`${fleetUrl}/fleet/v1/machines`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  }, 30_000, run.abort.signal);
  say(run, `  fleet emulator: ${fleetUrl} (pid ${emulator.pid})`);
  return { fleetPort };
}

/**
 * The engine: one scheduler, serving the operator listener (board, /ui, API) on a free loopback port, and
 * `workers` workers, each its own `node bin/dynamite.js` process. Returns the listener.
 */
export async function startEngineProcesses(
  run: DemoRun,
  infra: { fleetPort: number; rendered: RenderedDemo; basePort: number; credentials: HttpCredentials | null },
): Promise<OperatorListener> {
  const { fleetPort, rendered, basePort, credentials } = infra;
  const listener = operatorListener(await freePort(), SERVICE, credentials);
  const { workers } = run.settings;
  const etcdChoice = run.etcdChoice!;
  const redisChoice = run.redisChoice!;
  const common = ['-e', etcdChoice.endpoint, '-f', `127.0.0.1:${fleetPort}`, '--redis_url', redisChoice.url, '--queue_prefix', run.queuePrefix];
  run.engine.push(run.children.start('scheduler', process.execPath, [
    DYNAMITE_BIN, 'scheduler', '-c', rendered.configFile, '-s', rendered.unitsDir, ...common, '--http', new URL(listener.base).host,
  ]));
  for (let i = 1; i <= workers; i += 1) {
    run.engine.push(run.children.start(`worker-${i}`, process.execPath, [DYNAMITE_BIN, 'worker', ...common, '--concurrency', '4']));
  }
  const { service, scaleUp, scaleDown } = rendered;
  say(
    run,
    `  engine: scheduler (pid ${run.engine[0]!.pid}) and ${workers} workers (pids ${run.engine.slice(1).map((w) => w.pid).join(', ')}), queue prefix ${run.queuePrefix}`,
    ...listenerLines(listener),
    `  config: ${rendered.configFile} (${service.name}@${basePort}..${basePort + service.maxInstance - 1}, keys under ${run.keyRoot})`,
    `  policies: up when ${scaleUp.metric} > ${scaleUp.threshold} for ${scaleUp.periodMs / 1000} s (cooldown ${scaleUp.cooldownMs / 1000} s); ` +
      `down when < ${scaleDown.threshold} for ${scaleDown.periodMs / 1000} s (cooldown ${scaleDown.cooldownMs / 1000} s)`,
    `  logs: ${run.children.logDir}`,
  );
  return listener;
}

/**
 * Watches the engine's records and the demo's registrations and samples in etcd (printing each decision as it
 * happens), and waits until min_instance instances are launched and reporting.
 */
export async function observeUntilReady(run: DemoRun, rendered: RenderedDemo): Promise<Observer> {
  const { config, service, scaleUp, scaleDown } = rendered;
  const registrationPrefix = `${config.etcd.applicationBasePath}/${scaleUp.serviceType}/`;
  const samplePrefix = `${config.etcd.metricsBasePath}/${scaleUp.serviceType}/`;
  const etcd = new Etcd3({ hosts: run.etcdChoice!.hosts, dialTimeout: 5000 });
  run.etcd = etcd;
  const policies = [scaleUp, scaleDown];
  const obs = new Observer(etcd, service.name, registrationPrefix, samplePrefix, (d) => say(run, decisionLine(d, run.t0, obs, policies)));
  run.observer = obs;
  await obs.start();

  say(run, `waiting for ${service.minInstance} ${service.name} instance(s) to launch, register and report ${scaleUp.metric} (min_instance ${service.minInstance})...`);
  await waitFor(`the first ${service.name} instance launching and sending samples`, async () => {
    failIfAChildDied(run);
    const launched = [...obs.instances.keys()].filter((n) => obs.instances.get(n)!.record.state === 'launched');
    return launched.length >= service.minInstance && launched.every((n) => {
      const uuid = obs.uuidOf(n);
      return uuid !== null && obs.latest.has(uuid);
    });
  }, STARTUP_TIMEOUT_MS, run.abort.signal);
  run.startupS = (Date.now() - run.t0) / 1000;
  run.instancesAtStart = obs.launchedCount();
  say(run, `ready after ${run.startupS.toFixed(1)} s: ${[...obs.instances.keys()].join(', ')} launched and reporting`);
  return obs;
}
