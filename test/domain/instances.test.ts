import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocatePort,
  attachedInstanceName,
  attachedInstancesOf,
  instanceName,
  parseInstanceOf,
} from '@dynamite/domain';
import { config, service } from './factory';

const ports = (...p: (number | null)[]) => p.map((port) => ({ port }));

describe('instance names', () => {
  test('template: the service key, not the unit file prefix, with the first port', () => {
    const apache = service('apache', { unitFile: 'zurmo_apache@.service' });
    assert.equal(instanceName(apache, 8081), 'apache@8081.service');
  });
  test('non-template: the unit file name', () => {
    assert.equal(instanceName(service('lb', { unitFile: 'loadbalancer.service' }), null), 'loadbalancer.service');
  });
  test('a template without a port is a programming error', () => {
    assert.throws(() => instanceName(service('apache'), null), /needs a port/);
  });
  test('attached: the parent suffix on the attached key; non-template attached: its unit file', () => {
    const disc = service('apache_discovery', { unitFile: 'zurmo_apache_discovery@.service', type: 'attached_service' });
    assert.equal(attachedInstanceName(disc, 'apache@8081.service'), 'apache_discovery@8081.service');
    assert.equal(attachedInstanceName(disc, 'apache@8081'), 'apache_discovery@8081.service');
    const side = service('sidecar', { unitFile: 'sidecar.service', type: 'attached_service' });
    assert.equal(attachedInstanceName(side, 'apache@8081.service'), 'sidecar.service');
  });
  test('attached template of a non-template parent: the parent name is the suffix', () => {
    const disc = service('lb_disc', { type: 'attached_service' });
    assert.equal(attachedInstanceName(disc, 'loadbalancer.service'), 'lb_disc@loadbalancer.service');
  });
  test('attachedInstancesOf follows the attached_service order; unknown services give none', () => {
    const cfg = config([
      service('apache', { attachedServices: ['b_disc', 'a_log'] }),
      service('a_log', { type: 'attached_service' }),
      service('b_disc', { type: 'attached_service' }),
    ]);
    assert.deepEqual(attachedInstancesOf(cfg, 'apache', 'apache@8082.service'), ['b_disc@8082.service', 'a_log@8082.service']);
    assert.deepEqual(attachedInstancesOf(cfg, 'a_log', 'x@1.service'), []);
    assert.deepEqual(attachedInstancesOf(cfg, 'nope', 'x@1.service'), []);
  });
});

describe('allocatePort', () => {
  const one = service('web', { basePort: 8080, maxInstance: 3 });
  const two = service('web', { basePort: 8080, maxInstance: 3, portsPerInstance: 2 });
  const cases: [string, typeof one, (number | null)[], number | null][] = [
    ['ppi 1, empty', one, [], 8080],
    ['ppi 1, lowest free slot first', one, [8080, 8082], 8081],
    ['ppi 1, order of the occupied list does not matter', one, [8081, 8080], 8082],
    ['ppi 1, full', one, [8080, 8081, 8082], null],
    ['ppi 1, a port outside the range does not block', one, [9000, 8080], 8081],
    ['ppi 2, empty', two, [], 8080],
    ['ppi 2, second instance', two, [8080], 8082],
    ['ppi 2, third instance', two, [8080, 8082], 8084],
    ['ppi 2, full', two, [8080, 8082, 8084], null],
    ['ppi 2, after removing 8080 the next is 8080 again', two, [8082, 8084], 8080],
    ['ppi 2, unaligned adopted 8081 blocks slots 0 and 1', two, [8081], 8084],
    ['ppi 2, unaligned adopted 8083 blocks slots 1 and 2', two, [8083], 8080],
    ['ppi 2, unaligned 8079 overlaps slot 0 (8079-8080)', two, [8079], 8082],
    ['ppi 2, unaligned 8078 ends before slot 0', two, [8078], 8080],
    ['null ports (non-template records) are ignored', two, [null], 8080],
  ];
  for (const [name, svc, occupied, expected] of cases) {
    test(name, () => assert.equal(allocatePort(svc, ports(...occupied)), expected));
  }
  test('sequential allocate-then-occupy gives 8080, 8082, 8084 with ppi 2', () => {
    const taken: number[] = [];
    for (;;) {
      const p = allocatePort(two, ports(...taken));
      if (p === null) break;
      taken.push(p);
    }
    assert.deepEqual(taken, [8080, 8082, 8084]);
  });
  test('non-template services have no ports', () => {
    const lb = service('lb', { unitFile: 'loadbalancer.service' });
    assert.equal(allocatePort(lb, []), null);
    assert.equal(allocatePort(lb, ports(null)), null);
  });
});

describe('parseInstanceOf (adoption at start)', () => {
  const cfg = config([
    service('apache', { unitFile: 'zurmo_apache@.service', basePort: 8080, maxInstance: 3, portsPerInstance: 2, attachedServices: ['apache_discovery'] }),
    service('apache_discovery', { unitFile: 'zurmo_apache_discovery@.service', type: 'attached_service' }),
    service('lb', { unitFile: 'loadbalancer.service' }),
  ]);
  const cases: [string, { service: string; port: number | null } | null][] = [
    ['apache@8080.service', { service: 'apache', port: 8080 }],
    ['apache@8085.service', { service: 'apache', port: 8085 }], // last port of the range, unaligned
    ['apache@8081.service', { service: 'apache', port: 8081 }],
    ['loadbalancer.service', { service: 'lb', port: null }],
    ['apache@8086.service', null], // past the range
    ['apache@8079.service', null],
    ['apache@08080.service', null], // not a name we give
    ['apache@.service', null],
    ['apache@abc.service', null],
    ['apache@8080.socket', null],
    ['apache@8080', null],
    ['zurmo_apache@8080.service', null], // the unit file prefix is not the instance prefix
    ['apache_discovery@8080.service', null], // attached: adopted with its parent, never alone
    ['lb.service', null],
    ['loadbalancer@1.service', null],
    ['etcd.service', null],
    ['other@8080.service', null],
    ['', null],
  ];
  for (const [unit, expected] of cases) {
    test(`${JSON.stringify(unit)} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(parseInstanceOf(cfg, unit), expected));
  }
});
