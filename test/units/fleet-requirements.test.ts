import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetRequirements, parseMultivalueLine, validateUnitOptions, type UnitOption } from '@dynamite/unit-files';

const o = (section: string, name: string, value: string): UnitOption => ({ section, name, value });
const x = (name: string, value: string): UnitOption => o('X-Fleet', name, value);
const exec = o('Service', 'ExecStart', '/bin/true');

test('multivalue lines split on spaces outside quotes only when quoted at both ends', () => {
  assert.deepEqual(parseMultivalueLine('"region=us-east-1" "diskType=SSD"'), ['region=us-east-1', 'diskType=SSD']);
  assert.deepEqual(parseMultivalueLine('region=us-east-1 diskType=SSD'), ['region=us-east-1 diskType=SSD']);
  assert.deepEqual(parseMultivalueLine('"a b"'), ['a b']);
});

test('requirements: conflicts split on whitespace, X- aliases, specifiers %n %N %p %i', () => {
  const req = fleetRequirements('web@8080.service', [
    exec,
    x('Conflicts', 'web@*.service  other.service'),
    x('X-Conflicts', '%p-lb@%i.service'),
    x('MachineOf', '%N-peer.service'),
    x('X-ConditionMachineOf', '%n.peer.service'),
    x('MachineMetadata', '"region=us" "disk=ssd"'),
    x('MachineMetadata', 'region=eu'),
    x('MachineMetadata', 'bad'),
    x('MachineMetadata', 'a=b=c'),
    x('MachineMetadata', '=x'),
  ]);
  assert.deepEqual(req.conflicts, ['web-lb@8080.service', 'web@*.service', 'other.service']);
  assert.deepEqual(req.peers, ['web@8080.service.peer.service', 'web@8080-peer.service']);
  assert.deepEqual(req.metadata, { region: ['us', 'eu'], disk: ['ssd'] });
  assert.equal(req.machineId, null);
  assert.equal(req.global, false);
});

test('MachineID takes the first value, then the legacy aliases', () => {
  assert.equal(fleetRequirements('a.service', [x('X-ConditionMachineBootID', 'boot'), x('MachineID', 'abc'), x('MachineID', 'def')]).machineId, 'abc');
  assert.equal(fleetRequirements('a.service', [x('X-ConditionMachineBootID', 'boot')]).machineId, 'boot');
});

test('Global: the last line wins; truthy values are case-insensitive', () => {
  for (const v of ['true', 'YES', '1', 'On', 't']) assert.equal(fleetRequirements('g.service', [x('Global', v)]).global, true, v);
  assert.equal(fleetRequirements('g.service', [x('Global', 'true'), x('Global', 'false')]).global, false);
  assert.equal(fleetRequirements('g.service', [x('Global', 'false'), x('Global', 'true')]).global, true);
  assert.equal(fleetRequirements('g.service', [o('Service', 'Global', 'true')]).global, false);
});

test('%i expands to "" for a non-instance name', () => {
  assert.deepEqual(fleetRequirements('plain.service', [x('Conflicts', 'x@%i.service')]).conflicts, ['x@.service']);
});

test('X-Fleet combination rules give fleet messages in fleet order', () => {
  const cases: Array<[UnitOption[], string]> = [
    [[x('MachineOf', 'a.service'), x('Conflicts', 'a*')], 'unresolvable requirements: peer "a.service" matches conflict "a*"'],
    [[x('MachineOf', 'a.service'), x('Replaces', 'a.*')], 'unresolvable requirements: peer "a.service" matches replace "a.*"'],
    [[x('MachineID', 'abc'), x('MachineOf', 'b.service')], 'MachineID cannot be used with Peers'],
    [[x('MachineID', 'abc'), x('Conflicts', 'x*')], 'MachineID cannot be used with Conflicts'],
    [[x('MachineID', 'abc'), x('Global', 'true')], 'MachineID cannot be used with Global'],
    [[x('MachineID', 'abc'), x('Replaces', 'y.service')], 'MachineID cannot be used with Replaces'],
    [[x('Global', 'true'), x('MachineOf', 'b.service')], 'Global cannot be used with Peers'],
    [[x('Global', 'true'), x('Replaces', 'b.service')], 'Global cannot be used with Replaces'],
    [[x('Conflicts', 'a*'), x('Replaces', 'b.service')], 'Conflicts cannot be used with Replaces'],
  ];
  for (const [options, message] of cases) assert.equal(validateUnitOptions('val.service', [exec, ...options]), message, message);
});

test('accepted combinations and unknown X-Fleet keys', () => {
  assert.equal(validateUnitOptions('g.service', [exec, x('Global', 'true'), x('Conflicts', 'x*'), x('MachineMetadata', 'a=b')]), null);
  assert.equal(validateUnitOptions('u.service', [exec, x('Foo', 'bar')]), null);
  assert.equal(validateUnitOptions('u.service', []), null);
  assert.equal(validateUnitOptions('web@1.service', [x('MachineOf', 'web@%i.service'), x('Conflicts', 'api@*.service')]), null);
});

test('round-trip validation catches bare newlines, section garbage, long lines', () => {
  assert.equal(validateUnitOptions('v.service', [o('Service', 'ExecStart', 'line1\nline2')]), 'unexpected newline encountered while parsing option name');
  assert.equal(validateUnitOptions('v.service', [o('Service', 'ExecStart', 'line1\\\nline2')]), null);
  assert.equal(validateUnitOptions('v.service', [o('Serv]ice', 'A', 'b')]), 'found garbage after section name : [105 99 101 93]');
  assert.equal(validateUnitOptions('v.service', [o('Service', 'Exec\nStart', 'b')]), 'unexpected newline encountered while parsing option name');
  assert.equal(validateUnitOptions('v.service', [o('Service', 'ExecStart', 'x'.repeat(2048))]), 'line too long (max 2048 bytes)');
});
