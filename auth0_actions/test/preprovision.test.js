'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-preprovision');
const { makeEvent, makeApi, countFetches, startCompanion, verifyJwt, SECRET, O365_CLIENT_ID } = require('./support/fakes');

/** Runs `handler` against a local companion answering with `route`; console.log is captured. */
async function against(t, route, handler, eventOptions = {}, api = makeApi().api) {
  const companion = await startCompanion(route);
  const logs = t.mock.method(console, 'log', () => {});
  const event = makeEvent({ companionUrl: companion.base, ...eventOptions });
  try {
    await handler(event, api);
  } finally {
    await companion.close();
  }
  return { requests: companion.requests, logs: logs.mock.calls.map((call) => call.arguments.join(' ')) };
}

const accept = (req, body, send) => send(202, { status: 'pending', status_url: '/v1/o365/provision/x' });

test('registration posts the profile with mode async and a signed bearer', async (t) => {
  const { requests, logs } = await against(t, accept, action.onExecutePostUserRegistration);
  assert.equal(requests.length, 1);
  const [request] = requests;
  assert.equal(`${request.method} ${request.url}`, 'POST /v1/o365/provision');
  const claims = verifyJwt(request.headers.authorization.replace('Bearer ', ''), SECRET);
  assert.deepEqual([claims.iss, claims.aud, claims.sub], ['auth0-action', 'entra-companion', 'google-oauth2|1001']);
  assert.ok(Number.isInteger(claims.iat) && claims.exp - claims.iat === 60);  // the companion requires both
  assert.deepEqual(request.body, {
    user_id: 'google-oauth2|1001', email: 'ann.smith@example.org', email_verified: true, name: 'Ann Smith', nickname: 'ann',
    given_name: 'Ann', family_name: 'Smith', connection: 'google-oauth2', usage_location: 'GB', mode: 'async',
  });
  assert.match(logs[0], /pre-provisioning accepted/);
});

test('registration only logs a refusal, without the secret', async (t) => {
  const { logs } = await against(t, (req, body, send) => send(500, { error: { code: 'internal' } }), action.onExecutePostUserRegistration);
  assert.match(logs[0], /not accepted: HTTP 500/);
  assert.ok(logs.every((line) => !line.includes(SECRET)));
});

test('registration survives an unreachable companion and missing secrets', async (t) => {
  const logs = t.mock.method(console, 'log', () => {});
  await action.onExecutePostUserRegistration(makeEvent({ companionUrl: 'http://127.0.0.1:9' }));
  await action.onExecutePostUserRegistration(makeEvent({ secrets: { COMPANION_SECRET: '' } }));
  await action.onExecutePostUserRegistration({});
  const lines = logs.mock.calls.map((call) => call.arguments[0]);
  assert.match(lines[0], /unreachable/);
  assert.match(lines[1], /set the secret\(s\) COMPANION_SECRET/);
  assert.match(lines[2], /set the secret\(s\) COMPANION_URL, COMPANION_SECRET/);
});

test('registration skips connections listed in SKIP_CONNECTIONS', async (t) => {
  const { requests } = await against(t, accept, action.onExecutePostUserRegistration, { connection: 'corp-ad', secrets: { SKIP_CONNECTIONS: 'corp-ad' } });
  assert.equal(requests.length, 0);
});

test('on login nothing happens unless PREPROVISION_ON_LOGIN is "true"', async () => {
  const fetches = countFetches();
  await action.onExecutePostLogin(makeEvent({ clientId: 'portal' }), makeApi().api);
  await action.onExecutePostLogin(makeEvent({ clientId: 'portal', secrets: { PREPROVISION_ON_LOGIN: 'yes' } }), makeApi().api);
  fetches.restore();
  assert.equal(fetches.count, 0);
});

test('on login to another application an unprovisioned user is asked for once', async (t) => {
  const { api, named } = makeApi();
  const options = { clientId: 'portal', secrets: { PREPROVISION_ON_LOGIN: 'true' } };
  const first = await against(t, accept, action.onExecutePostLogin, options, api);
  const second = await against(t, accept, action.onExecutePostLogin, options, api);
  assert.equal(first.requests.length, 1);
  assert.equal(first.requests[0].body.mode, 'async');
  assert.equal(second.requests.length, 0);
  assert.equal(named('cache.set').length, 1);
  assert.ok(Buffer.byteLength(named('cache.set')[0][1]) <= 64);
});

test('on login the Office 365 client, provisioned users and refresh tokens are left alone', async (t) => {
  const secrets = { PREPROVISION_ON_LOGIN: 'true' };
  const cases = [
    { clientId: O365_CLIENT_ID, secrets },
    { clientId: 'portal', secrets, user: { app_metadata: { entra_companion: { immutable_id: 'abc==' } } } },
    { clientId: 'portal', secrets, user: { app_metadata: { office365ImmutableId: 'legacy==' } } },
  ];
  for (const options of cases) {
    const { requests } = await against(t, accept, action.onExecutePostLogin, options);
    assert.equal(requests.length, 0);
  }
  const companion = await startCompanion(accept);
  const event = makeEvent({ clientId: 'portal', secrets, companionUrl: companion.base });
  event.transaction.protocol = 'oauth2-refresh-token';
  await action.onExecutePostLogin(event, makeApi().api);
  await companion.close();
  assert.equal(companion.requests.length, 0);
});

test('on login a companion that never answers does not hold the login', { timeout: 10000 }, async (t) => {
  const { api, calls } = makeApi();
  const { requests, logs } = await against(t, () => {}, action.onExecutePostLogin, { clientId: 'portal', secrets: { PREPROVISION_ON_LOGIN: 'true' } }, api);
  assert.equal(requests.length, 1);
  assert.match(logs[0], /no answer within 2000 ms/);
  assert.deepEqual(calls.filter((call) => call[0] === 'access.deny'), []);
});
