'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-provisioning');
const { createRecord, createCache, createPostLoginApi } = require('../sandbox/api');
const { decodeUnverified } = require('../sandbox/jwt');
const { makeEvent, makeApi, denials, countFetches, SECRET, DOMAIN } = require('./support/fakes');

test('an unprovisioned user is sent to the companion with a 600 s token', async () => {
  const fetches = countFetches();
  const { api, calls, named } = makeApi();
  await action.onExecutePostLogin(makeEvent({ companionUrl: 'https://companion.example.com/' }), api);
  fetches.restore();
  assert.equal(fetches.count, 0);
  assert.deepEqual(denials(calls), []);
  const [[, encodeArgs]] = named('redirect.encodeToken');
  assert.deepEqual(encodeArgs, {
    secret: SECRET,
    expiresInSeconds: 600,
    payload: {
      user: {
        email: 'ann.smith@example.org', email_verified: true, name: 'Ann Smith', nickname: 'ann', given_name: 'Ann',
        family_name: 'Smith', connection: 'google-oauth2', strategy: 'google-oauth2', usage_location: 'GB',
      },
    },
  });
  assert.deepEqual(named('redirect.sendUserTo'), [
    ['redirect.sendUserTo', 'https://companion.example.com/o365/start', { query: { session_token: 'encoded.token.value' } }],
  ]);
});

async function usageLocationFor(user, country) {
  const { api, named } = makeApi();
  await action.onExecutePostLogin(makeEvent({ user, country }), api);
  return named('redirect.encodeToken')[0][1].payload.user.usage_location;
}

test('usage_location: app_metadata first, then a two-letter user_metadata.country, then geoip', async () => {
  assert.equal(await usageLocationFor({ app_metadata: { usage_location: 'de' }, user_metadata: { country: 'FR' } }, 'GB'), 'DE');
  assert.equal(await usageLocationFor({ user_metadata: { country: 'fr' } }, 'GB'), 'FR');
  assert.equal(await usageLocationFor({ user_metadata: { country: 'France' } }, 'NL'), 'NL');
  assert.equal(await usageLocationFor({}, null), undefined);
});

test('the real token carries Auth0 claims beside the user and stays near 1 kB for huge profiles', async () => {
  const event = makeEvent({ user: { name: 'N'.repeat(5000), nickname: 'K'.repeat(5000), username: 'u'.repeat(5000) } });
  const record = createRecord();
  const api = createPostLoginApi(record, { event, domain: DOMAIN, canRedirect: true, cache: createCache() });
  await action.onExecutePostLogin(event, api);
  const url = new URL(record.redirect.url);
  const claims = decodeUnverified(url.searchParams.get('session_token'));
  assert.equal(claims.iss, DOMAIN);
  assert.equal(claims.sub, 'google-oauth2|1001');
  assert.equal(claims.ip, '203.0.113.7');
  assert.equal(claims.exp - claims.iat, 600);
  assert.equal(claims.user.email, 'ann.smith@example.org');
  assert.ok(JSON.stringify(claims.user).length < 1024);
  assert.equal(url.searchParams.get('state'), record.redirect.state);
});
