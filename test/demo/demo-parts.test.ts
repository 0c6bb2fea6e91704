import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionRecord } from '@dynamite/domain';
import {
  buildPhases, DemoError, formatSummary, gateOf, listenerCredentials, listenerLines, operatorListener, parseInstanceTarget, pauseLine,
  pauseSummaryLine, phaseAt, phaseLabel, PhaseClock, quoteArg, renderDemo, summarize, summarizePause, verdict,
} from '@dynamite/demo';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('demo traffic phases', () => {
  const phases = buildPhases(80, { quietRate: 4, peakRate: 140 });

  test('quiet, ramp up and peak under the pause, peak, ramp down, quiet: covering the whole duration', () => {
    assert.deepEqual(phases.map((p) => p.name), ['quiet', 'ramp up', 'peak', 'peak', 'ramp down', 'quiet']);
    assert.deepEqual(phases.map((p) => p.upPaused), [false, true, true, false, false, false]);
    assert.deepEqual(phases.map(phaseLabel), ['quiet', 'ramp up, scaling up paused', 'peak, scaling up paused', 'peak', 'ramp down', 'quiet']);
    assert.equal(phases[0]!.startS, 0);
    assert.ok(Math.abs(phases[5]!.endS - 80) < 1e-9);
    for (let i = 1; i < phases.length; i += 1) assert.equal(phases[i]!.startS, phases[i - 1]!.endS);
  });

  test('rates ramp linearly and stay at the quiet rate after the end', () => {
    assert.equal(phaseAt(phases, 1).rate, 4);
    const ramp = phases[1]!;
    assert.ok(Math.abs(phaseAt(phases, (ramp.startS + ramp.endS) / 2).rate - 72) < 1e-9);
    assert.equal(phaseAt(phases, phases[2]!.startS + 1).rate, 140);
    assert.equal(phaseAt(phases, phases[3]!.startS + 1).rate, 140);
    const after = phaseAt(phases, 500);
    assert.equal(after.done, true);
    assert.equal(after.rate, 4);
  });

  test('the pause is in place before the load rises, and resumed after the paused peak', () => {
    assert.deepEqual(phases.map((_, i) => gateOf(phases, i)), ['paused', null, 'resumed', null, null, null]);
  });

  test('the clock waits at the end of a phase whose gate is closed, at the rate of its end, then goes on', () => {
    const open = { paused: false, resumed: false };
    const clock = new PhaseClock(phases, (gate) => open[gate]);
    const quietEnd = phases[0]!.endS;
    assert.equal(clock.at(1), 1);
    assert.equal(clock.waitingAt, null);
    // The pause is not in place yet: phase 1 does not end.
    const held = clock.at(quietEnd + 5);
    assert.ok(held < quietEnd && quietEnd - held < 1e-3, String(held));
    assert.equal(clock.waitingAt, 0);
    assert.equal(phaseAt(phases, held).index, 0);
    assert.equal(phaseAt(phases, held).rate, 4);
    open.paused = true;
    // From where it stopped: 2 s later it is 2 s into the ramp.
    assert.ok(Math.abs(clock.at(quietEnd + 7) - (quietEnd + 2)) < 1e-3);
    assert.equal(clock.waitingAt, null);
    // The paused peak ends only once resumed, and the rate stays at the peak meanwhile.
    const peakEnd = phases[2]!.endS;
    const t = clock.at(peakEnd + 5 + 30);
    assert.equal(clock.waitingAt, 2);
    assert.equal(phaseAt(phases, t).index, 2);
    assert.equal(phaseAt(phases, t).rate, 140);
    open.resumed = true;
    const after = clock.at(peakEnd + 5 + 31);
    assert.equal(phaseAt(phases, after).index, 3);
    assert.equal(clock.waitingAt, null);
    // Time never runs backwards while it waits.
    const steps = [0, 3, 6, 9, 12].map((s) => new PhaseClock(phases, () => false).at(s));
    for (let i = 1; i < steps.length; i += 1) assert.ok(steps[i]! >= steps[i - 1]!);
  });
});

describe('demo registrations', () => {
  test('instance names with or without .service resolve to their port', () => {
    assert.deepEqual(parseInstanceTarget('u1', 'webserver@8081.service'), { uuid: 'u1', instance: 'webserver@8081.service', port: 8081 });
    assert.deepEqual(parseInstanceTarget('u2', 'webserver@8082'), { uuid: 'u2', instance: 'webserver@8082.service', port: 8082 });
    assert.equal(parseInstanceTarget('u3', 'haproxy.service'), null);
    assert.equal(parseInstanceTarget('u4', 'web@99999.service'), null);
  });
});

describe('demo config rendering', () => {
  test('ExecStart words are quoted only when needed, and % is escaped', () => {
    assert.equal(quoteArg('/usr/bin/node'), '/usr/bin/node');
    assert.equal(quoteArg('/tmp/my dir/x.js'), '"/tmp/my dir/x.js"');
    assert.equal(quoteArg('/tmp/100%/x'), '/tmp/100%%/x');
  });

  test('the bundled config renders with private key bases, the chosen ports and runnable unit files', () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dynamite-demo-render-'));
    try {
      const r = renderDemo(
        { runDir, keyRoot: '/demo-abc123', basePort: 23456, etcdHosts: ['http://127.0.0.1:2379'], parentPid: 1, exampleDir: path.join(ROOT, 'examples', 'demo') },
        { costMs: 10, workMs: 1, maxQueue: 100, sampleEveryMs: 500, registrationTtlSec: 5, sampleTtlSec: 15 },
      );
      assert.equal(r.config.etcd.applicationBasePath, '/demo-abc123/services');
      assert.equal(r.config.etcd.metricsBasePath, '/demo-abc123/metrics');
      assert.equal(r.service.basePort, 23456);
      assert.equal(r.service.minInstance, 1);
      assert.equal(r.service.maxInstance, 4);
      assert.deepEqual(r.service.attachedServices, ['webserver_discovery']);
      assert.equal(r.scaleUp.operator, 'gt');
      assert.equal(r.scaleDown.operator, 'lt');
      assert.equal(r.runtime.metric, 'cpu_user');
      const web = fs.readFileSync(path.join(r.unitsDir, 'webserver@.service'), 'utf8');
      assert.match(web, new RegExp(`ExecStart=${process.execPath.replace(/[/.]/g, '\\$&')} \\S+/units/webserver\\.js ${r.runtimeFile.replace(/[/.]/g, '\\$&')} %i`));
      assert.doesNotMatch(web.split('\n').filter((l) => !l.startsWith('#')).join('\n'), /\{\{/);
      const discovery = fs.readFileSync(path.join(r.unitsDir, 'webserver_discovery@.service'), 'utf8');
      assert.match(discovery, /discovery\.js \S+ %i/);
      assert.match(discovery, /MachineOf=webserver@%i\.service/);
      // The scripts the units name exist (the build compiled them).
      for (const script of [...web.matchAll(/ (\S+\.js) /g), ...discovery.matchAll(/ (\S+\.js) /g)]) assert.ok(fs.existsSync(script[1]!), script[1]);
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });
});

function record(partial: Partial<DecisionRecord> & Pick<DecisionRecord, 'id' | 'outcome'>): DecisionRecord {
  return {
    at: 0, service: 'webserver', policy: null, machine: null, direction: null, reason: null, rule: null, inputs: {}, action: null, message: '',
    ...partial,
  };
}

describe('demo summary', () => {
  const records: DecisionRecord[] = [
    record({ id: 'a1', outcome: 'armed', at: 1000, policy: 'up', direction: 'up' }),
    record({ id: 'd1', outcome: 'scaled', at: 4000, policy: 'up', direction: 'up', inputs: { armedAt: 1000 }, action: { kind: 'scale_up', instance: 'webserver@1.service', attached: [] } }),
    record({ id: 'x1', outcome: 'action_done', at: 4500, direction: 'up', inputs: { decisionId: 'd1' }, action: { kind: 'scale_up', instance: 'webserver@1.service', attached: [] } }),
    record({ id: 's1', outcome: 'suppressed', at: 9000, policy: 'down', direction: 'down', reason: 'min_instance' }),
    record({ id: 'd2', outcome: 'scaled', at: 20000, policy: 'down', direction: 'down', inputs: { armedAt: 16000 }, action: { kind: 'scale_down', instance: 'webserver@1.service', attached: [] } }),
  ];

  test('matches decisions with their actions and measures breach to launch', () => {
    const s = summarize(records);
    assert.equal(s.scaleUps.length, 1);
    assert.equal(s.scaleUps[0]!.doneAt! - s.scaleUps[0]!.breachAt!, 3500);
    assert.equal(s.scaleDowns.length, 0, 'a scale down whose action is not done does not count');
    assert.deepEqual(s.suppressedBy, { min_instance: 1 });
    assert.equal(verdict(s).ok, false);
    assert.match(verdict(s).message, /no scale down happened/);
  });

  test('an executed scale up and scale down make the verdict OK; the summary prints the counts', () => {
    const all = [...records, record({ id: 'x2', outcome: 'action_done', at: 20300, direction: 'down', inputs: { decisionId: 'd2' } })];
    const s = summarize(all);
    assert.equal(verdict(s).ok, true);
    const text = formatSummary(s, {
      totalS: 90, startupS: 5, trafficS: 80, instancesAtStart: 1, instancesPeak: 2, instancesAtEnd: 1, minInstance: 1, maxInstance: 4,
      requests: { ok: 10, rejected: 0, failed: 0, dropped: 0 }, peakRate: 140, pauses: [], t0: 0,
    }).join('\n');
    assert.match(text, /^ {2}scale ups: 1$/m);
    assert.match(text, /^ {2}scale downs: 1$/m);
    assert.match(text, /breach -> launched 3\.5 s \(decision -> launched 0\.5 s\)/);
    assert.match(text, /time from breach to new instance launched: mean 3\.5 s/);
  });
});

describe('demo pause', () => {
  const pause = { service: 'webserver', directions: ['up' as const], reason: 'demo: hold scale-up', until: 300_000, at: 10_000, by: 'root@vm' };
  const up = (n: number) => ({ kind: 'scale_up' as const, instance: `webserver@${n}.service`, attached: [] });
  const decisions = [
    // Before the pause was written (revision 10): not the pause's business.
    { revision: 5n, record: record({ id: 'u0', outcome: 'scaled', at: 5_000, policy: 'up', direction: 'up', action: up(1) }) },
    { revision: 12n, record: record({ id: 'p1', outcome: 'suppressed', at: 14_000, policy: 'up', direction: 'up', reason: 'paused' }) },
    { revision: 14n, record: record({ id: 'c1', outcome: 'suppressed', at: 15_000, policy: 'down', direction: 'down', reason: 'min_instance' }) },
    { revision: 16n, record: record({ id: 'p2', outcome: 'suppressed', at: 18_000, policy: 'up', direction: 'up', reason: 'paused' }) },
    // After the resume (revision 20).
    { revision: 22n, record: record({ id: 'u1', outcome: 'scaled', at: 21_000, policy: 'up', direction: 'up', action: up(2) }) },
  ];
  const span = { record: pause, fromRevision: 10n, toRevision: 20n, endedAt: 20_000 };

  test('counts the windows recorded paused between the write of the pause and its removal', () => {
    const s = summarizePause(decisions, span);
    assert.equal(s.heldWindows, 2);
    assert.deepEqual(s.movedWhilePaused, []);
    assert.equal(pauseSummaryLine(s, 0),
      'scaling up paused +10.0s .. +20.0s by root@vm ("demo: hold scale-up"): 2 windows recorded suppressed: paused, no scale up while paused');
  });

  test('a scale up committed while the pause was set is a broken pause, and fails the verdict', () => {
    const broken = [...decisions, { revision: 18n, record: record({ id: 'u2', outcome: 'scaled', at: 19_000, policy: 'up', direction: 'up', action: up(3) }) }];
    const s = summarizePause(broken, span);
    assert.deepEqual(s.movedWhilePaused, ['webserver@3.service']);
    assert.match(pauseSummaryLine(s, 0), /BROKEN: 1 instance\(s\) moved while paused \(webserver@3\.service\)/);
    const scaled = summarize([
      record({ id: 'd1', outcome: 'scaled', at: 4000, direction: 'up', action: up(1) }),
      record({ id: 'x1', outcome: 'action_done', at: 4500, direction: 'up', inputs: { decisionId: 'd1' } }),
      record({ id: 'd2', outcome: 'scaled', at: 9000, direction: 'down', action: { ...up(1), kind: 'scale_down' } }),
      record({ id: 'x2', outcome: 'action_done', at: 9500, direction: 'down', inputs: { decisionId: 'd2' } }),
    ]);
    assert.equal(verdict(scaled).ok, true, 'a run that planned no pause is judged on scaling alone');
    assert.deepEqual(verdict(scaled, [summarizePause(decisions, span)]),
      { ok: true, message: 'OK: the load scaled the service up 1x and back down 1x; the pause held 2 scale-up windows' });
    assert.match(verdict(scaled, [s]).message, /^FAILED: the pause did not hold: webserver@3\.service moved while paused/);
    assert.match(verdict(scaled, []).message, /^FAILED: scaling up was never paused/);
    const nothingHeld = summarizePause([], span);
    assert.match(verdict(scaled, [nothingHeld]).message, /^FAILED: no window was recorded suppressed: paused while scaling up was paused/);
  });

  test('a scale up after the pause ended by itself (--for) is no broken pause', () => {
    const late = [{ revision: 18n, record: record({ id: 'u3', outcome: 'scaled', at: 300_000, policy: 'up', direction: 'up', action: up(4) }) }];
    assert.deepEqual(summarizePause(late, span).movedWhilePaused, []);
  });

  test('the live view says what is paused, why, since when, and how many windows it held', () => {
    const observed = decisions.map((d) => ({ ...d, seenAt: d.record.at }));
    const current = { record: { ...pause, until: null }, fromRevision: 10n, toRevision: null, seenAt: 10_000, endedAt: null };
    assert.equal(pauseLine(current, observed, 0), 'paused: scaling up ("demo: hold scale-up") by root@vm since +10.0s; 2 windows held so far');
    assert.equal(pauseLine(null, observed, 0), null);
  });

  test('the summary prints the pause before the scale ups', () => {
    const text = formatSummary(summarize([]), {
      totalS: 90, startupS: 5, trafficS: 80, instancesAtStart: 1, instancesPeak: 2, instancesAtEnd: 1, minInstance: 1, maxInstance: 4,
      requests: { ok: 10, rejected: 0, failed: 0, dropped: 0 }, peakRate: 140, pauses: [summarizePause(decisions, span)], t0: 0,
    }).join('\n');
    assert.match(text, /^ {2}pause: scaling up paused \+10\.0s \.\. \+20\.0s by root@vm .*: 2 windows recorded suppressed: paused, no scale up while paused\n {2}scale ups: 0$/m);
  });
});

describe('demo operator listener', () => {
  test('the board, the /ui page and the pause API of the service, on loopback', () => {
    const l = operatorListener(8123, 'webserver', null);
    assert.equal(l.boardUrl, 'http://127.0.0.1:8123/admin/queues');
    assert.equal(l.uiUrl, 'http://127.0.0.1:8123/ui');
    assert.equal(l.serviceUrl, 'http://127.0.0.1:8123/ui/services/webserver');
    assert.equal(l.pauseUrl, 'http://127.0.0.1:8123/api/services/webserver/pause');
    assert.deepEqual(listenerLines(l), [
      '  Bull Board: http://127.0.0.1:8123/admin/queues',
      '  page: http://127.0.0.1:8123/ui/services/webserver (all services: http://127.0.0.1:8123/ui)',
    ]);
  });

  test('with credentials in the environment the lines name the user, never the password', () => {
    const credentials = listenerCredentials({ DYNAMITE_HTTP_USER: 'ops', DYNAMITE_HTTP_PASSWORD: 's3cret-pw' });
    assert.deepEqual(credentials, { user: 'ops', password: 's3cret-pw' });
    const lines = listenerLines(operatorListener(8123, 'webserver', credentials)).join('\n');
    assert.match(lines, /page: \S+\/ui\/services\/webserver .*\(basic auth: user ops, the password in DYNAMITE_HTTP_PASSWORD\)/);
    assert.doesNotMatch(lines, /s3cret-pw/);
  });

  test('credentials the scheduler would refuse stop the demo before it starts anything (exit 2)', () => {
    assert.equal(listenerCredentials({}), null);
    assert.throws(() => listenerCredentials({ DYNAMITE_HTTP_USER: 'ops' }), (err: unknown) =>
      err instanceof DemoError && err.exitCode === 2 && /DYNAMITE_HTTP_USER is set but DYNAMITE_HTTP_PASSWORD is not/.test(err.message));
  });
});
