'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-provisioning');
const { createRecord, createCache, createPostLoginApi } = require('../sandbox/api');
const { signHs256 } = require('../sandbox/jwt');
const { makeEvent, makeApi, denials, SECRET, DOMAIN } = require('./support/fakes');

const COMPANION = 'https://companion.example.com';
const READY = { upn: 'ann.smith@partners.contoso.com', immutable_id: 'q83vEjRWeJCrze8SNFZ4kA==', object_id: '6f1c0b9e-1111-4b6a-9d7e-000000000001' };

/** Resumes the Action with a result token built from `claims`, as Auth0 would after /continue. */
async function resume(claims = {}, { secret = SECRET, tokenState = 'state-1', resumedState = 'state-1' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const token = signHs256({ iss: COMPANION, sub: 'google-oauth2|1001', state: tokenState, iat: now, exp: now + 60, status: 'ready', ...READY, ...claims }, secret);
  const event = makeEvent({ companionUrl: COMPANION });
  event.request = { ...event.request, query: { state: resumedState, session_token: token } };
  const record = createRecord();
  const api = createPostLoginApi(record, { event, domain: DOMAIN, canRedirect: false, cache: createCache(), resumedState });
  await action.onContinuePostLogin(event, api);
  return record;
}

test('a valid ready result is stored in app_metadata and emitted as claims', async () => {
  const record = await resume();
  assert.equal(record.denied, false);
  const stored = record.appMetadata.entra_companion;
  assert.deepEqual({ ...stored, provisioned_at: undefined }, { ...READY, provisioned_at: undefined });
  assert.ok(!Number.isNaN(Date.parse(stored.provisioned_at)));
  assert.deepEqual(record.saml.attributes, {
    'http://schemas.xmlsoap.org/claims/UPN': READY.upn,
    'http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID': READY.immutable_id,
  });
  assert.deepEqual(record.saml.nameIdentifierProbes, ['http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID']);
});

test('a failed result denies with the reason and the support reference', async () => {
  const record = await resume({ status: 'failed', reason: 'No Office 365 licence is left for your organisation.', reference: 'EC-7F3A' });
  assert.equal(record.denyReason, 'No Office 365 licence is left for your organisation. (reference EC-7F3A)');
  assert.deepEqual(record.appMetadata, {});
  assert.deepEqual(record.saml.attributes, {});
});

const REJECTIONS = [
  ['a token signed with another secret', {}, { secret: 'another-secret' }, /invalid or has expired/],
  ['an expired token', { exp: Math.floor(Date.now() / 1000) - 5 }, {}, /invalid or has expired/],
  ['a token for another state', {}, { tokenState: 'state-2' }, /invalid or has expired/],
  ['a token for another user', { sub: 'auth0|someone-else' }, {}, /another account/],
  ['a token from another issuer', { iss: 'https://evil.example.com' }, {}, /unexpected service/],
  ['a ready token without an ImmutableID', { immutable_id: undefined }, {}, /unexpected answer/],
  ['a token with an unknown status', { status: 'maybe' }, {}, /unexpected answer/],
];

for (const [what, claims, options, expected] of REJECTIONS) {
  test(`${what} is denied and nothing is stored`, async () => {
    const record = await resume(claims, options);
    assert.equal(record.denied, true);
    assert.match(record.denyReason, expected);
    assert.deepEqual(record.appMetadata, {});
    assert.deepEqual(record.saml.attributes, {});
  });
}

test('validateToken is asked for session_token with COMPANION_SECRET', async () => {
  const { api, calls, named } = makeApi({ validateToken: () => { throw new Error('Invalid token'); } });
  await action.onContinuePostLogin(makeEvent(), api);
  assert.deepEqual(named('redirect.validateToken')[0][1], { secret: SECRET, tokenParameterName: 'session_token' });
  assert.equal(denials(calls).length, 1);
});

test('a resume without the companion secrets is denied with them named', async () => {
  const { api, calls } = makeApi();
  await action.onContinuePostLogin(makeEvent({ secrets: { COMPANION_SECRET: '' } }), api);
  assert.match(denials(calls)[0], /COMPANION_SECRET/);
});
