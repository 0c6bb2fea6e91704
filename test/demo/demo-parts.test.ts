import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecisionRecord } from '@dynamite/domain';
import { buildPhases, formatSummary, parseInstanceTarget, phaseAt, quoteArg, renderDemo, summarize, verdict } from '@dynamite/demo';

const ROOT = path.resolve(__dirname, '..', '..', '..');

describe('demo traffic phases', () => {
  const phases = buildPhases(80, { quietRate: 4, peakRate: 140 });

  test('quiet, ramp up, peak, ramp down, quiet: covering the whole duration', () => {
    assert.deepEqual(phases.map((p) => p.name), ['quiet', 'ramp up', 'peak', 'ramp down', 'quiet']);
    assert.equal(phases[0]!.startS, 0);
    assert.ok(Math.abs(phases[4]!.endS - 80) < 1e-9);
    for (let i = 1; i < phases.length; i += 1) assert.equal(phases[i]!.startS, phases[i - 1]!.endS);
  });

  test('rates ramp linearly and stay at the quiet rate after the end', () => {
    assert.equal(phaseAt(phases, 1).rate, 4);
    const ramp = phases[1]!;
    assert.equal(phaseAt(phases, (ramp.startS + ramp.endS) / 2).rate, 72);
    assert.equal(phaseAt(phases, phases[2]!.startS + 1).rate, 140);
    const after = phaseAt(phases, 500);
    assert.equal(after.done, true);
    assert.equal(after.rate, 4);
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
      requests: { ok: 10, rejected: 0, failed: 0, dropped: 0 }, peakRate: 140,
    }).join('\n');
    assert.match(text, /^ {2}scale ups: 1$/m);
    assert.match(text, /^ {2}scale downs: 1$/m);
    assert.match(text, /breach -> launched 3\.5 s \(decision -> launched 0\.5 s\)/);
    assert.match(text, /time from breach to new instance launched: mean 3\.5 s/);
  });
});
