'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-provisioning');
const { makeEvent, makeApi, denials, countFetches } = require('./support/fakes');

test('a login to another application is left alone', async () => {
  const fetches = countFetches();
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(makeEvent({ clientId: 'some-other-app' }), api);
  fetches.restore();
  assert.deepEqual(calls, []);
  assert.equal(fetches.count, 0);
});

test('OFFICE365_CLIENT_ID may list several clients', async () => {
  const { api, named } = makeApi();
  const event = makeEvent({ clientId: 'wsfed-fallback', secrets: { OFFICE365_CLIENT_ID: 'o365-addon, wsfed-fallback' } });
  await action.onExecutePostLogin(event, api);
  assert.equal(named('redirect.sendUserTo').length, 1);
});

test('a connection listed in SKIP_CONNECTIONS is left alone', async () => {
  const { api, calls } = makeApi();
  const event = makeEvent({ connection: 'corp-ad', strategy: 'ad', secrets: { SKIP_CONNECTIONS: 'legacy-db, corp-ad' } });
  await action.onExecutePostLogin(event, api);
  assert.deepEqual(calls, []);
});

test('a connection not listed in SKIP_CONNECTIONS is handled', async () => {
  const { api, named } = makeApi();
  await action.onExecutePostLogin(makeEvent({ secrets: { SKIP_CONNECTIONS: 'corp-ad' } }), api);
  assert.equal(named('redirect.sendUserTo').length, 1);
});

test('without OFFICE365_CLIENT_ID every login is denied with the secret named', async () => {
  const { api, calls } = makeApi();
  const event = makeEvent({ clientId: 'anything', secrets: { OFFICE365_CLIENT_ID: '' } });
  await action.onExecutePostLogin(event, api);
  const [reason] = denials(calls);
  assert.match(reason, /OFFICE365_CLIENT_ID/);
  assert.doesNotMatch(reason, /COMPANION_URL/);
});

test('missing companion secrets are named in the denial', async () => {
  const fetches = countFetches();
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(makeEvent({ secrets: { COMPANION_URL: '', COMPANION_SECRET: '' } }), api);
  fetches.restore();
  const [reason] = denials(calls);
  assert.match(reason, /secret\(s\) COMPANION_URL, COMPANION_SECRET on the "office365-provisioning" Action/);
  assert.equal(fetches.count, 0);
});

test('a plain-http COMPANION_URL outside loopback is refused', async () => {
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(makeEvent({ companionUrl: 'http://companion.example.com' }), api);
  assert.match(denials(calls)[0], /COMPANION_URL .*https URL/);
});

test('an error inside the Action becomes a denial, never a throw', async () => {
  const { api, calls } = makeApi({ encodeToken: () => { throw new Error('boom'); } });
  await action.onExecutePostLogin(makeEvent(), api);
  assert.match(denials(calls)[0], /failed unexpectedly/);
});
