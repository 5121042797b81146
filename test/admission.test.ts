// The admission check as a pure function: which Host names are served, which requests may change state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdmission } from '../server/admission';
import { isJson } from '../server/api/http';
import { contentSecurityPolicy } from '../server/securityHeaders';

const loopback = createAdmission({ port: 3000, bindHost: '127.0.0.1' });
const req = (method: string, headers: Record<string, string>) => ({ method, headers });

test('bound to loopback: the loopback names with the port, nothing else', () => {
  for (const host of ['127.0.0.1:3000', 'localhost:3000', 'LOCALHOST:3000', '[::1]:3000']) {
    assert.equal(loopback.check(req('GET', { host })), undefined, host);
  }
  for (const host of ['attacker.example:3000', 'attacker.example', '127.0.0.1', '127.0.0.1:3001', 'localhost.attacker.example:3000', '127.0.0.2:3000', '', 'localhost:3000 x']) {
    assert.equal(loopback.check(req('GET', { host }))?.code, 'forbidden_host', host);
  }
  assert.equal(loopback.check(req('GET', {}))?.code, 'forbidden_host', 'no Host at all');
  assert.equal(loopback.check(req('GET', { host: 'attacker.example:3000' }), true)?.code, 'forbidden_host', 'an upgrade too');
});

test('port 80 is left out of Host by browsers; the bind address is a name too', () => {
  const on80 = createAdmission({ port: 80, bindHost: '10.1.2.3', localAddresses: () => [] });
  assert.equal(on80.check(req('GET', { host: 'localhost' })), undefined);
  assert.equal(on80.check(req('GET', { host: '10.1.2.3' })), undefined);
  assert.equal(on80.check(req('GET', { host: '10.1.2.3:80' })), undefined);
  assert.equal(on80.check(req('GET', { host: '10.1.2.4' }))?.code, 'forbidden_host');
});

test("bound to every address: the machine's own addresses, not any name", () => {
  const all = createAdmission({ port: 3000, bindHost: '0.0.0.0', localAddresses: () => ['192.0.2.7', 'fe80::1'] });
  assert.equal(all.check(req('GET', { host: '192.0.2.7:3000' })), undefined);
  assert.equal(all.check(req('GET', { host: '[fe80::1]:3000' })), undefined);
  assert.equal(all.check(req('GET', { host: 'rebind.example:3000' }))?.code, 'forbidden_host');
});

test('FREEZEFRAME_ALLOWED_HOSTS: a name alone at any port, name:port exactly', () => {
  const proxied = createAdmission({ port: 3000, bindHost: '127.0.0.1', allowedHosts: 'freezeframe.example.org, demo.example.org:8443' });
  assert.equal(proxied.check(req('GET', { host: 'freezeframe.example.org' })), undefined);
  assert.equal(proxied.check(req('GET', { host: 'Freezeframe.Example.org:443' })), undefined);
  assert.equal(proxied.check(req('GET', { host: 'demo.example.org:8443' })), undefined);
  assert.equal(proxied.check(req('GET', { host: 'demo.example.org' }))?.code, 'forbidden_host');
  assert.throws(() => createAdmission({ port: 3000, bindHost: '127.0.0.1', allowedHosts: 'http://x.example/' }), /FREEZEFRAME_ALLOWED_HOSTS/);
});

test('changes: only from the same origin, or from a client that is no browser', () => {
  const host = '127.0.0.1:3000';
  assert.equal(loopback.check(req('POST', { host, origin: 'http://127.0.0.1:3000' })), undefined, 'the dashboard itself');
  assert.equal(loopback.check(req('POST', { host })), undefined, 'curl, the CLI: neither Origin nor Sec-Fetch-Site');
  assert.equal(loopback.check(req('POST', { host, 'sec-fetch-site': 'same-origin' })), undefined);
  const refused: Record<string, string>[] = [
    { origin: 'null' },
    { origin: 'http://attacker.example' },
    { origin: 'http://localhost:3000' }, // another name of this server is another origin: not the page's own
    { origin: 'http://127.0.0.1:3001' },
    { origin: 'file://' },
    { origin: 'not a url' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { 'sec-fetch-site': 'none' },
  ];
  for (const headers of refused) {
    for (const method of ['POST', 'DELETE', 'PUT', 'PATCH']) {
      assert.equal(loopback.check(req(method, { host, ...headers }))?.code, 'cross_origin', `${method} ${JSON.stringify(headers)}`);
    }
  }
  // Reads need no origin: their answers reach another site only through CORS, which is never granted.
  assert.equal(loopback.check(req('GET', { host, origin: 'http://attacker.example' })), undefined);
  // An upgrade is a GET that the browser lets any site make: checked like a change.
  assert.equal(loopback.check(req('GET', { host, origin: 'http://attacker.example' }), true)?.code, 'cross_origin');
  assert.equal(loopback.check(req('GET', { host, origin: 'http://127.0.0.1:3000' }), true), undefined);
});

test('behind a proxy that terminates TLS, https://name is the same origin as Host: name', () => {
  const proxied = createAdmission({ port: 3000, bindHost: '127.0.0.1', allowedHosts: 'freezeframe.example.org' });
  assert.equal(proxied.check(req('POST', { host: 'freezeframe.example.org', origin: 'https://freezeframe.example.org' })), undefined);
  assert.equal(proxied.check(req('POST', { host: 'freezeframe.example.org', origin: 'https://evil.example.org' }))?.code, 'cross_origin');
});

test('JSON bodies are application/json only', () => {
  assert.ok(isJson('application/json'));
  assert.ok(isJson('application/json; charset=utf-8'));
  for (const type of [null, 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-seq']) {
    assert.ok(!isJson(type), String(type));
  }
});

test('the CSP allows only own scripts with the nonce, and no framing', () => {
  const csp = contentSecurityPolicy('abc');
  assert.match(csp, /script-src 'self' 'nonce-abc'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-eval/);
  assert.match(contentSecurityPolicy('abc', true), /unsafe-eval/, 'only in dev mode');
});
