import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ORIGINALS } from '../config/support';
import { EngineHarness, sampleStream, sleep, waitFor } from '../support/engine-harness';

/**
 * The original project's `scale_down_apache` integration scenario, run unchanged (only PathList points at a folder
 * with the original's integration unit files) against the fleet emulator: the original's 30 s periods, its aggregated
 * JSON response-time metric on the load balancer, per-instance cpu_user on the webservers, attached units.
 */
describe("the original's scale_down_apache scenario", () => {
  let h: EngineHarness;
  const uuids = new Map<string, string>();

  before(async () => {
    const config = fs.readFileSync(path.join(ORIGINALS, 'configs', 'scale_down_apache.yaml'), 'utf8')
      .replace(/(PathList:\s*\n\s*- ).*/, '$1{{UNITS}}');
    const unitDir = path.join(ORIGINALS, 'units', 'integration');
    const units = Object.fromEntries(fs.readdirSync(unitDir).map((n) => [n, fs.readFileSync(path.join(unitDir, n), 'utf8')]));
    h = await EngineHarness.start({ suite: 'original', config, units });
    h.spawn('run');
  });
  after(async () => { await h.stop(); });

  test('start: min_instance webservers with their announcer and logger, and the load balancer', async () => {
    const expected = [
      'loadbalancer.service',
      ...[8080, 8081, 8082].flatMap((p) => [`webserver@${p}.service`, `webserver_announcer@${p}.service`, `webserver_logger@${p}.service`]),
    ].sort();
    await waitFor(async () => JSON.stringify(await h.launchedUnits()) === JSON.stringify(expected), 30_000, 'initial units launched', h);
    for (const port of [8080, 8081, 8082]) {
      const uuid = `9ed076d2-f6f0-42c0-ae04-63c817ab${port}`;
      uuids.set(`webserver@${port}.service`, uuid);
      await h.register('webserver', uuid, `webserver@${port}.service`);
    }
  });

  test('the load balancer p95 response time above 250 for 30 s adds webserver@8083', { timeout: 90_000 }, async () => {
    const cpu = [...uuids.values()].map((u) => sampleStream(h, 'webserver', u, 'cpu_user', () => 50, 1_000));
    let writing = true;
    const p95 = (async () => {
      while (writing) {
        await h.etcd.put(`/metrics/loadbalancer/response_time/${new Date().toISOString()}`)
          .value(JSON.stringify({ 'time_backend_response.p95': 400, 'time_backend_response.p50': 120 }));
        await sleep(1_000);
      }
    })();
    try {
      await waitFor(async () => (await h.launchedUnits()).includes('webserver@8083.service'), 60_000, 'webserver@8083 launched', h);
    } finally {
      writing = false;
      await p95;
      await Promise.all(cpu.map((s) => s.stop()));
    }
    const units = await h.launchedUnits();
    assert.ok(units.includes('webserver_announcer@8083.service') && units.includes('webserver_logger@8083.service'));
    const scaled = (await h.decisions('webserver')).filter((d) => d.outcome === 'scaled');
    assert.equal(scaled.length, 1);
    assert.equal(scaled[0]!.action?.instance, 'webserver@8083.service');
  });

  test('webserver@8081 below 30 % cpu for 30 s is the instance removed, with its attached units', { timeout: 90_000 }, async () => {
    const busy = [...uuids.entries()].filter(([name]) => name !== 'webserver@8081.service').map(([, u]) => sampleStream(h, 'webserver', u, 'cpu_user', () => 60, 1_000));
    const idle = sampleStream(h, 'webserver', uuids.get('webserver@8081.service')!, 'cpu_user', () => 5, 1_000);
    try {
      await waitFor(async () => !(await h.unitNames()).some((n) => n.includes('@8081.')), 60_000, 'webserver@8081 and its units destroyed', h);
    } finally {
      await Promise.all([...busy, idle].map((s) => s.stop()));
    }
    const webs = (await h.unitNames()).filter((n) => n.startsWith('webserver@'));
    assert.deepEqual(webs, ['webserver@8080.service', 'webserver@8082.service', 'webserver@8083.service']);
    const down = (await h.decisions('webserver')).filter((d) => d.outcome === 'scaled' && d.action?.kind === 'scale_down');
    assert.equal(down.length, 1);
    assert.equal(down[0]!.action?.instance, 'webserver@8081.service');
  });
});
