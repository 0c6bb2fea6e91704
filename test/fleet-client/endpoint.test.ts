import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetArgumentError, FleetClient, parseFleetEndpoint } from '@dynamite/fleet-client';

test('host:port gets http:// and the /fleet/v1/ base path', () => {
  assert.deepEqual(parseFleetEndpoint('127.0.0.1:49153'), {
    url: 'http://127.0.0.1:49153',
    baseUrl: 'http://127.0.0.1:49153/fleet/v1/',
    basePath: '/fleet/v1/',
  });
});

test('a trailing slash or /fleet/v1 in the endpoint gives the same base URL', () => {
  for (const input of ['http://fleet:4001', 'http://fleet:4001/', 'http://fleet:4001/fleet/v1', 'http://fleet:4001/fleet/v1/', ' fleet:4001 ']) {
    assert.equal(parseFleetEndpoint(input).baseUrl, 'http://fleet:4001/fleet/v1/', input);
  }
});

test('https and a reverse-proxy path prefix are kept', () => {
  assert.equal(parseFleetEndpoint('https://proxy.example:8443/cluster-a/fleet/v1/').baseUrl, 'https://proxy.example:8443/cluster-a/fleet/v1/');
  assert.equal(parseFleetEndpoint('https://proxy.example:8443/cluster-a/fleet/v1/').basePath, '/cluster-a/fleet/v1/');
});

test('unix:// endpoints use the socket path', () => {
  const endpoint = parseFleetEndpoint('unix:///var/run/fleet.sock');
  assert.equal(endpoint.socketPath, '/var/run/fleet.sock');
  assert.equal(endpoint.basePath, '/fleet/v1/');
});

test('invalid endpoints are refused with a message naming the endpoint and the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /invalid fleet endpoint "": it is empty/],
    ['ftp://fleet:21', /invalid fleet endpoint "ftp:\/\/fleet:21": unsupported scheme "ftp"/],
    ['http:/fleet:4001', /invalid fleet endpoint "http:\/fleet:4001": the scheme must be followed by "\/\/"/],
    ['fleet:99999', /invalid fleet endpoint "fleet:99999": it is not a valid host:port or URL/],
    ['http://user:pw@fleet:4001', /fleet has no authentication/],
    ['http://fleet:4001/?x=1', /a query or fragment is not allowed/],
    ['unix://relative.sock', /a unix socket path must be absolute/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseFleetEndpoint(input), (err: unknown) => err instanceof FleetArgumentError && message.test(err.message), input);
  }
});

test('the client constructor refuses a bad endpoint, timeout or retry policy before any request', () => {
  assert.throws(() => new FleetClient({ endpoint: 'gopher://x' }), /invalid fleet endpoint "gopher:\/\/x"/);
  assert.throws(() => new FleetClient({ endpoint: '127.0.0.1:1', timeoutMs: 0 }), /invalid fleet request timeout 0/);
  assert.throws(() => new FleetClient({ endpoint: '127.0.0.1:1', retry: { attempts: 0 } }), /attempts must be an integer >= 1/);
});
