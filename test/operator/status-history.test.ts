import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Overview } from '@dynamite/operator';
import { EtcdServer } from '../support/etcd';
import { OperatorEnv, STACK_LINE, runCli, waitFor } from './support';

/** A table printed by status/history: header cells and rows, split on runs of 2+ spaces. */
function parseTable(block: string): { header: string[]; rows: string[][] } {
  const [head, ...lines] = block.split('\n').filter((l) => l !== '');
  return { header: head!.split(/ {2,}/), rows: lines.map((l) => l.split(/ {2,}/)) };
}

describe('dynamite status and dynamite history', () => {
  let env: OperatorEnv;
  let bare: EtcdServer;

  before(async () => {
    env = await OperatorEnv.start('cli', { http: null });
    bare = await EtcdServer.start();
    await env.waitForMinInstances();
    // web scales up once (cooldown 1 minute follows), slow gets an armed 10 minute period.
    await env.register('webserver', 'uuid-a', 'web@18080.service');
    const stream = env.stream('webserver', 'uuid-a', 'cpu_user', 95);
    try {
      await waitFor(async () => (await env.instances('web'))['web@18081.service']?.state === 'launched', 20_000, 'web@18081 launched');
    } finally {
      await stream.stop();
    }
    await env.register('slowtype', 'uuid-s', 'slow@19090.service');
    const t0 = Date.now();
    for (let i = 0; i < 3; i += 1) await env.sample('slowtype', 'uuid-s', 'load', 90 + i, t0 + i);
    await waitFor(async () => {
      const all = await env.etcd.getAll().prefix('/_dynamite/policy/slow/slow_up/machine/').json();
      return Object.values(all).some((m) => (m as { state: { armed: unknown } }).state.armed !== null);
    }, 15_000, 'slow_up armed');
  });
  after(async () => {
    await bare?.stop();
    await env?.stop();
  });

  test('status: instances with state and bounds, then policies with state and time left, like fleetctl list-units', async () => {
    const r = await runCli(['status', '-e', env.etcdEndpoint]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const [instances, policies, summary] = r.stdout.trimEnd().split('\n\n');
    const inst = parseTable(instances!);
    assert.deepEqual(inst.header, ['SERVICE', 'INSTANCE', 'STATE', 'MIN/MAX', 'NOTE']);
    assert.deepEqual(inst.rows, [
      ['web', 'web@18080.service', 'launched', '1/3', 'with web_disc@18080.service'],
      ['web', 'web@18081.service', 'launched', '1/3', 'with web_disc@18081.service'],
      ['slow', 'slow@19090.service', 'launched', '1/2'],
    ]);
    const pol = parseTable(policies!);
    assert.deepEqual(pol.header, ['SERVICE', 'POLICY', 'DIR', 'RULE', 'STATE']);
    assert.deepEqual(pol.rows.map((row) => row.slice(0, 4)), [
      ['web', 'web_up', 'up', 'cpu_user gt 80 percent for 1s (cooldown 1m)'],
      ['web', 'web_down', 'down', 'cpu_user lt 10 percent for 1s (cooldown 1m)'],
      ['slow', 'slow_up', 'up', 'load gt 50 for 10m (cooldown 1m)'],
    ]);
    assert.match(pol.rows[0]![4]!, /^cooldown, (\d+s|1m) left \(until \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
    assert.equal(pol.rows[1]![4], 'idle');
    assert.match(pol.rows[2]![4]!, /^armed on uuid-s, fires in 9m(\d+s)? \(\d+ samples?, newest 9\d\)$/);
    const [engine, leader] = summary!.split('\n');
    assert.equal(engine, 'engine: Running; instances: web 2/3, slow 1/2');
    // The scheduler runs in this process (without a listener), under its default election id (host:pid).
    assert.match(leader!, new RegExp(`^scheduler: [^ ]+:${process.pid} leads since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; standby: none$`));
  });

  test('status --json: the same, as data', async () => {
    const r = await runCli(['status', '-e', env.etcdEndpoint, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const overview = JSON.parse(r.stdout) as Overview;
    assert.deepEqual(overview.fleet, { asked: false, reachable: null, error: null });
    assert.deepEqual(overview.services.map((s) => [s.name, s.desired, s.min, s.max]), [['web', 2, 1, 3], ['slow', 1, 1, 2]]);
    const web = overview.services[0]!;
    assert.deepEqual(web.instances.map((i) => [i.name, i.state, i.fleetState]), [
      ['web@18080.service', 'launched', 'unknown'],
      ['web@18081.service', 'launched', 'unknown'],
    ]);
    const up = web.policies.find((p) => p.name === 'web_up')!;
    assert.equal(up.state, 'cooldown');
    assert.ok(up.cooldown!.remainingMs > 30_000 && up.cooldown!.remainingMs <= 60_000);
    const slowUp = overview.services[1]!.policies[0]!;
    assert.equal(slowUp.state, 'armed');
    assert.equal(slowUp.armed[0]!.machine, 'uuid-s');
  });

  test('history: decision records newest first with time, outcome, reason, action and message', async () => {
    const r = await runCli(['history', 'web', '-e', env.etcdEndpoint]);
    assert.equal(r.code, 0, r.stderr);
    const t = parseTable(r.stdout.trimEnd());
    assert.deepEqual(t.header, ['TIME', 'OUTCOME', 'REASON', 'POLICY', 'ACTION', 'MESSAGE']);
    for (const row of t.rows) assert.match(row[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const times = t.rows.map((row) => row[0]!);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    const scaled = t.rows.find((row) => row[1] === 'scaled')!;
    assert.deepEqual(scaled.slice(1, 5), ['scaled', 'web_up', 'web_up', 'up web@18081.service +1']);
    assert.match(scaled[5]!, /^cpu_user stayed above 80 on instance \S+ \(\d+ samples, newest \d+\): scaling web up, creating web@18081\.service; 1 active before$/);
    const done = t.rows.find((row) => row[1] === 'action_done' && row[4] === 'up web@18081.service +1')!;
    assert.match(done[5]!, /^launched web@18081\.service with web_disc@18081\.service \(decision /);
    assert.ok(t.rows.some((row) => row[1] === 'armed' && row[3] === 'web_up'));
    const repair = t.rows.find((row) => row[1] === 'bound_repair')!;
    assert.deepEqual(repair.slice(2, 5), ['min_instance', '-', 'up web@18080.service +1']);
    assert.equal(repair[5], 'web has 0 active instance(s), fewer than min_instance 1: creating web@18080.service');
  });

  test('history --limit and --json', async () => {
    const two = await runCli(['history', 'web', '--limit', '2', '-e', env.etcdEndpoint]);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(parseTable(two.stdout.trimEnd()).rows.length, 2);
    const json = await runCli(['history', 'web', '--limit', '3', '--json', '-e', env.etcdEndpoint]);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout) as { service: string; decisions: { id: string; at: number; time: string; outcome: string }[] };
    assert.equal(body.service, 'web');
    assert.equal(body.decisions.length, 3);
    assert.ok(body.decisions[0]!.id > body.decisions[1]!.id && body.decisions[1]!.id > body.decisions[2]!.id);
    for (const d of body.decisions) assert.equal(new Date(d.time).getTime(), d.at);
    const slow = await runCli(['history', 'slow', '-e', env.etcdEndpoint]);
    assert.equal(slow.code, 0);
    assert.ok(parseTable(slow.stdout.trimEnd()).rows.some((row) => row[1] === 'armed' && row[3] === 'slow_up'));
  });

  test('errors are one line and exit 2: unknown service, bad --limit, etcd unreachable, no engine in etcd', async () => {
    const cases: [string[], string][] = [
      [['history', 'nope', '-e', env.etcdEndpoint], 'dynamite: unknown service "nope"; services: web, slow\n'],
      [['history', 'web', '--limit', '0', '-e', env.etcdEndpoint], 'dynamite: --limit: must be an integer from 1 to 1000 (got "0")\n'],
      [['history', 'web', '--limit', 'many', '-e', env.etcdEndpoint], 'dynamite: --limit: must be an integer from 1 to 1000 (got "many")\n'],
      [['status', '-e', '127.0.0.1:1'], 'dynamite: cannot read from etcd at 127.0.0.1:1: connection refused\n'],
      [['history', 'web', '-e', '127.0.0.1:1'], 'dynamite: cannot read from etcd at 127.0.0.1:1: connection refused\n'],
      [['status', '-e', 'not an endpoint'], 'dynamite: -e/--etcd_endpoint: etcd endpoint "not an endpoint" is not host:port\n'],
      [['status', '-e', bare.endpoint], `dynamite: etcd at ${bare.endpoint}: no configuration in etcd at /_dynamite/init/application_configuration; start the scheduler first\n`],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      const [args, expected] = cases[i]!;
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(r.stderr, expected, args.join(' '));
      assert.doesNotMatch(r.stderr, STACK_LINE);
    });
  });
});
