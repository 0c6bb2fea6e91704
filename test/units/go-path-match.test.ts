import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goPathMatch } from '@dynamite/unit-files';

test('globs used for Conflicts', () => {
  assert.equal(goPathMatch('web@*.service', 'web@8080.service'), true);
  assert.equal(goPathMatch('web@*.service', 'web@.service'), true);
  assert.equal(goPathMatch('web@*.service', 'api@8080.service'), false);
  assert.equal(goPathMatch('web@80[0-9]?.service', 'web@8081.service'), true);
  assert.equal(goPathMatch('web@80[0-9]?.service', 'web@808.service'), false);
  assert.equal(goPathMatch('conflict.*.service', 'conflict.3.service'), true);
});

test('the match is anchored to the whole name', () => {
  assert.equal(goPathMatch('web', 'web@1.service'), false);
  assert.equal(goPathMatch('*.service', 'a.service.bak'), false);
});

test('* and ? do not cross /', () => {
  assert.equal(goPathMatch('*', 'a/b'), false);
  assert.equal(goPathMatch('a?b', 'a/b'), false);
  assert.equal(goPathMatch('a*b', 'axxb'), true);
  assert.equal(goPathMatch('*/b', 'a/b'), true);
});

test('character classes, negation, ranges and escapes', () => {
  assert.equal(goPathMatch('[abc]', 'b'), true);
  assert.equal(goPathMatch('[^abc]', 'b'), false);
  assert.equal(goPathMatch('[^abc]', 'd'), true);
  assert.equal(goPathMatch('[a-c]x', 'bx'), true);
  assert.equal(goPathMatch('\\*', '*'), true);
  assert.equal(goPathMatch('\\*', 'a'), false);
  assert.equal(goPathMatch('[\\]]', ']'), true);
  assert.equal(goPathMatch('é?', 'éü'), true);
});

test('a malformed pattern matches nothing', () => {
  assert.equal(goPathMatch('[', '['), false);
  assert.equal(goPathMatch('a[', 'a'), false);
  assert.equal(goPathMatch('\\', '\\'), false);
  assert.equal(goPathMatch('[]a]', ']'), false);
  assert.equal(goPathMatch('[a-]', 'a'), false);
  assert.equal(goPathMatch('x[', 'y'), false);
});
