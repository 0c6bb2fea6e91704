import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandSystemdSpecifiers, unescapeUnitNamePart } from '@dynamite/unit-files';

const ctx = { unitName: 'web@8080.service', machineId: 'm'.repeat(32), hostname: 'host1', bootId: 'b'.repeat(32), userName: 'core', uid: 500, home: '/home/core', runtimeDir: '/run/user/500' };

test('every supported specifier', () => {
  assert.equal(
    expandSystemdSpecifiers('%n|%N|%p|%P|%i|%I|%f|%H|%m|%b|%u|%U|%h|%t|%%', ctx),
    `web@8080.service|web@8080|web|web|8080|8080|/8080|host1|${'m'.repeat(32)}|${'b'.repeat(32)}|core|500|/home/core|/run/user/500|%`,
  );
});

test('unescaped forms turn - into / and \\xNN into the byte', () => {
  const c = { ...ctx, unitName: 'var-lib@srv-data\\x2dx.service' };
  assert.equal(expandSystemdSpecifiers('%P %I %f', c), 'var/lib srv/data-x /srv/data-x');
  assert.equal(unescapeUnitNamePart('a\\xc3\\xa9'), 'aé');
});

test('%f uses the prefix when there is no instance', () => {
  assert.equal(expandSystemdSpecifiers('%f %i.', { ...ctx, unitName: 'foo-bar.service' }), '/foo/bar .');
});

test('%% is literal and unknown specifiers or missing values stay as written', () => {
  assert.equal(expandSystemdSpecifiers('100%%i %z %b', { unitName: 'a.service', machineId: 'm', hostname: 'h' }), '100%i %z %b');
});
