'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { createRecord, createCache, createPostLoginApi } = require('../sandbox/api');
const { signHs256, decodeUnverified } = require('../sandbox/jwt');
const { parseMetaRefresh, plannedReload, findContinueLink } = require('../sandbox/browser');
const WAITING_JS = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', 'service', 'static', 'waiting.js'), 'utf8');
const { runHandler } = require('../sandbox/play');
const { makeEvent, SECRET, DOMAIN } = require('./support/fakes');

function apiFor({ query = {}, resumedState = 'st-1', canRedirect = true } = {}) {
  const event = makeEvent();
  event.request.query = query;
  const record = createRecord();
  return { record, api: createPostLoginApi(record, { event, domain: DOMAIN, canRedirect, cache: createCache(), resumedState }) };
}

function tokenWith(claims = {}, secret = SECRET) {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub: 'google-oauth2|1001', state: 'st-1', exp: now + 60, ...claims }, secret);
}

test('validateToken returns the claims of a good token', () => {
  const { api } = apiFor({ query: { state: 'st-1', session_token: tokenWith({ status: 'ready' }) } });
  assert.equal(api.redirect.validateToken({ secret: SECRET }).status, 'ready');
});

const BAD_TOKENS = [
  ['a bad signature', () => tokenWith({}, 'other-secret'), /signature/],
  ['another state', () => tokenWith({ state: 'st-2' }), /state/],
  ['an expired token', () => tokenWith({ exp: Math.floor(Date.now() / 1000) - 1 }), /expired/],
  ['no exp', () => tokenWith({ exp: undefined }), /exp/],
  ['alg none', () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"state":"st-1"}').toString('base64url')}.`, /algorithm none/],
  ['garbage', () => 'not-a-token', /well-formed/],
];

for (const [what, make, expected] of BAD_TOKENS) {
  test(`validateToken throws on ${what}`, () => {
    const { api } = apiFor({ query: { state: 'st-1', session_token: make() } });
    assert.throws(() => api.redirect.validateToken({ secret: SECRET, tokenParameterName: 'session_token' }), expected);
  });
}

test('validateToken reads the named parameter', () => {
  const { api } = apiFor({ query: { result: tokenWith() } });
  assert.throws(() => api.redirect.validateToken({ secret: SECRET }), /missing/);
  assert.equal(api.redirect.validateToken({ secret: SECRET, tokenParameterName: 'result' }).sub, 'google-oauth2|1001');
});

test('encodeToken adds iss, sub, iat, exp (900 s by default) and ip beside the payload', () => {
  const { api } = apiFor();
  const claims = decodeUnverified(api.redirect.encodeToken({ secret: SECRET, payload: { user: { email: 'a@b.c' } } }));
  assert.deepEqual(claims.user, { email: 'a@b.c' });
  assert.deepEqual([claims.iss, claims.sub, claims.ip, claims.exp - claims.iat], [DOMAIN, 'google-oauth2|1001', '203.0.113.7', 900]);
});

test('sendUserTo appends the query and an opaque state; it refuses when canRedirect() is false', () => {
  const { api, record } = apiFor();
  api.redirect.sendUserTo('https://companion.example.com/o365/start', { query: { session_token: 't' } });
  const url = new URL(record.redirect.url);
  assert.equal(url.searchParams.get('session_token'), 't');
  assert.equal(url.searchParams.get('state'), record.redirect.state);
  assert.ok(record.redirect.state.length >= 24);
  assert.throws(() => apiFor({ canRedirect: false }).api.redirect.sendUserTo('https://x.example.com/'), /canRedirect/);
});

test('deny keeps the first reason; SAML attributes over the limits are reported', () => {
  const { api, record } = apiFor();
  api.access.deny('first').access.deny('second');
  // Like Auth0's, every api method returns the api object itself.
  assert.equal(api.samlResponse.setAttribute('urn:big', 'x'.repeat(3000)), api);
  api.samlResponse.setAttribute('urn:gone', 'y');
  api.samlResponse.setAttribute('urn:gone', null);
  assert.equal(record.denyReason, 'first');
  assert.deepEqual(Object.keys(record.saml.attributes), ['urn:big']);
  assert.match(record.violations[0], /over 2 kB: urn:big/);
});

test('the cache keeps strings within Auth0 limits and expires them', () => {
  let now = 1000;
  const cache = createCache(() => now);
  assert.deepEqual(cache.set('k', 'v', { ttl: 50 }), { type: 'success' });
  assert.equal(cache.get('k').value, 'v');
  now = 1051;
  assert.equal(cache.get('k'), undefined);
  assert.equal(cache.set('k'.repeat(65), 'v').type, 'error');
  assert.equal(cache.set('n', 42).type, 'error');
  for (let i = 0; i < 20; i += 1) cache.set(`key${i}`, 'v');
  assert.deepEqual(cache.set('one-too-many', 'v'), { type: 'error', code: 'too_many_entries' });
});

test('meta refresh parsing: entities, quotes, attribute order, bare reloads', () => {
  assert.deepEqual(parseMetaRefresh('<meta http-equiv="refresh" content="2;url=/o365/start?state=a&amp;session_token=b">'), { seconds: 2, url: '/o365/start?state=a&session_token=b' });
  assert.deepEqual(parseMetaRefresh("<META content='5; URL=\"https://c.example.com/w\"' HTTP-EQUIV='Refresh'>"), { seconds: 5, url: 'https://c.example.com/w' });
  assert.deepEqual(parseMetaRefresh('<meta http-equiv=refresh content="3">'), { seconds: 3, url: null });
  assert.equal(parseMetaRefresh('<meta charset="utf-8"><p>done</p>'), null);
});

test("the waiting page's script reloads our own page after the milliseconds the page names", () => {
  const page = (ms, url) => `<div id="waiting" role="status" data-refresh-ms="${ms}" data-refresh-url="${url}">`;
  assert.deepEqual(plannedReload(WAITING_JS, page(1250, '/o365/start?state=a&amp;session_token=b')),
    { seconds: 1.25, url: '/o365/start?state=a&session_token=b' });
  assert.deepEqual(plannedReload(WAITING_JS, page(0, '/o365/start?x')), { seconds: 0, url: '/o365/start?x' });
  for (const [ms, url] of [[500, 'https://evil.example/o365/start'], [500, '//evil.example/o365/'], [500, '/\\evil.example'],
    [500, 'javascript:alert(1)'], [-1, '/o365/start'], [60001, '/o365/start'], ['soon', '/o365/start']]) {
    assert.equal(plannedReload(WAITING_JS, page(ms, url)), null, `${ms} ${url}`);
  }
  assert.equal(plannedReload(WAITING_JS, '<p>no waiting element</p>'), null);
  assert.equal(plannedReload('document.querySelector("x").click()', page(500, '/o365/start')), null);  // throws
});

test('a link back to /continue is found only on the tenant domain', () => {
  const html = '<a href="https://evil.example.com/continue?state=x">no</a><a class="button" href="https://sandbox.eu.auth0.com/continue?state=s&amp;session_token=t">Return</a>';
  assert.deepEqual(Object.fromEntries(findContinueLink(html, 'http://127.0.0.1/', DOMAIN).searchParams), { state: 's', session_token: 't' });
  assert.equal(findContinueLink('<a href="/continue?state=s">x</a>', 'http://127.0.0.1/', DOMAIN), null);
});

test('runHandler reports a throw and an overrun instead of failing', async () => {
  assert.equal(await runHandler(async () => {}, {}, {}), null);
  assert.match(await runHandler(async () => { throw new Error('kaput'); }, {}, {}), /threw: kaput/);
  assert.match(await runHandler(() => new Promise(() => {}), {}, {}, 30), /did not finish within 0.03 s/);
});
