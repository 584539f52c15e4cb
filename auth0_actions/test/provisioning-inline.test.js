'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-provisioning');
const { makeEvent, makeApi, samlOf, denials, startCompanion, verifyJwt, SECRET } = require('./support/fakes');

const READY = { status: 'ready', upn: 'ann.smith@partners.contoso.com', immutable_id: 'q83vEjRWeJCrze8SNFZ4kA==', object_id: 'oid-1' };
const PENDING_MESSAGE = 'Your Office 365 account is still being prepared. Please try again in a minute.';

/** Runs the Action with canRedirect() false against a local companion answering with `route`. */
async function inline(route, secrets = {}) {
  const companion = await startCompanion(route);
  const { api, calls, named } = makeApi({ canRedirect: false });
  try {
    await action.onExecutePostLogin(makeEvent({ companionUrl: companion.base, secrets }), api);
  } finally {
    await companion.close();
  }
  return { requests: companion.requests, calls, named, denied: denials(calls) };
}

function assertBearer(request) {
  const claims = verifyJwt(request.headers.authorization.replace(/^Bearer /, ''), SECRET);
  assert.equal(claims.iss, 'auth0-action');
  assert.equal(claims.aud, 'entra-companion');
  assert.equal(claims.sub, 'google-oauth2|1001');
  assert.equal(claims.exp - claims.iat, 60);
  // the companion refuses times that are not whole numbers and an iat more than a minute ahead
  assert.ok(Number.isInteger(claims.iat) && Number.isInteger(claims.exp));
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 60);
}

test('200 ready: one signed POST, metadata stored, claims emitted', async () => {
  const { requests, calls, named, denied } = await inline((req, body, send) => send(200, READY));
  assert.deepEqual(denied, []);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].method, 'POST');
  assert.equal(requests[0].url, '/v1/o365/provision');
  assertBearer(requests[0]);
  assert.deepEqual(requests[0].body, {
    user_id: 'google-oauth2|1001', email: 'ann.smith@example.org', email_verified: true, name: 'Ann Smith', nickname: 'ann',
    given_name: 'Ann', family_name: 'Smith', connection: 'google-oauth2', usage_location: 'GB',
  });
  assert.equal(named('user.setAppMetadata')[0][2].immutable_id, READY.immutable_id);
  assert.equal(samlOf(calls).attributes['http://schemas.xmlsoap.org/claims/UPN'], READY.upn);
  assert.equal(named('redirect.sendUserTo').length, 0);
});

test('202 pending: the status URL is polled with a fresh bearer until ready', async () => {
  let polls = 0;
  const { requests, named, denied } = await inline((req, body, send) => {
    if (req.method === 'POST') return send(202, { status: 'pending', status_url: '/v1/o365/status/job-1' });
    polls += 1;
    return polls < 2 ? send(202, { status: 'pending' }, { 'retry-after': '0' }) : send(200, READY);
  });
  assert.deepEqual(denied, []);
  assert.deepEqual(requests.map((r) => `${r.method} ${r.url}`), ['POST /v1/o365/provision', 'GET /v1/o365/status/job-1', 'GET /v1/o365/status/job-1']);
  requests.forEach(assertBearer);
  assert.equal(named('user.setAppMetadata').length, 1);
});

test('still pending when the budget runs out: the person is asked to retry shortly', async () => {
  const { requests, denied } = await inline((req, body, send) => send(202, { status: 'pending', status_url: '/v1/o365/status/job-2' }), { INLINE_BUDGET_MS: '700' });
  assert.deepEqual(denied, [PENDING_MESSAGE]);
  assert.ok(requests.length >= 2);
});

test('a companion that never answers is abandoned within the budget', async () => {
  const { denied } = await inline(() => {}, { INLINE_BUDGET_MS: '500' });
  assert.deepEqual(denied, [PENDING_MESSAGE]);
});

test('a status URL on another origin is refused and never called', async () => {
  const { requests, denied } = await inline((req, body, send) => send(202, { status: 'pending', status_url: 'https://elsewhere.example.com/status' }));
  assert.equal(requests.length, 1);
  assert.match(denied[0], /unexpected answer/);
});

const ERRORS = [
  ['400 with an error body', 400, { error: { code: 'invalid_usage_location', message: 'The usage location XX is not valid', field: 'usage_location' } }, /could not be set up: The usage location XX is not valid\.$/],
  ['401', 401, { error: { code: 'unauthorized', message: 'bad token' } }, /COMPANION_SECRET/],
  ['429', 429, { error: { code: 'throttled', message: 'slow down' } }, /busy/],
  ['500', 500, { error: { code: 'internal', message: 'oops', reference: 'req-9' } }, /unavailable right now\. Please try again in a few minutes\. \(reference req-9\)$/],
  ['422 provisioning failed', 422, { error: { code: 'provisioning_failed', message: 'No Office 365 licences are left.', reference: 'req-4' } }, /^No Office 365 licences are left\. \(reference req-4\)$/],
  ['409 licence unavailable', 409, { error: { code: 'licence_unavailable', message: 'The licence is not available.' } }, /^The licence is not available\.$/],
  ['200 failed', 200, { status: 'failed', reason: 'Your organisation has no licence left.', reference: 'EC-1' }, /^Your organisation has no licence left\. \(reference EC-1\)$/],
  ['200 with nonsense', 200, { hello: 'world' }, /unexpected answer/],
];

for (const [what, status, json, expected] of ERRORS) {
  test(`${what} is denied with a message a person can act on`, async () => {
    const { named, denied } = await inline((req, body, send) => send(status, json));
    assert.equal(denied.length, 1);
    assert.match(denied[0], expected);
    assert.equal(named('user.setAppMetadata').length, 0);
  });
}

test('an unreachable companion is denied as unavailable', async () => {
  const companion = await startCompanion(() => {});
  await companion.close();
  const { api, calls } = makeApi({ canRedirect: false });
  await action.onExecutePostLogin(makeEvent({ companionUrl: companion.base }), api);
  assert.match(denials(calls)[0], /unavailable right now/);
});
