'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const action = require('../entra-policy');
const { makeEvent, makeApi, denials, DOMAIN } = require('./support/fakes');

const MFA = ['multifactor.enable', 'any', { allowRememberBrowser: false }];

/** makeApi plus the api.multifactor the Office 365 fakes do not need. */
function policyApi() {
  const made = makeApi();
  made.api.multifactor = { enable: (...args) => { made.calls.push(['multifactor.enable', ...args]); return made.api; } };
  return made;
}

function login({ policy, secrets = {}, connection = 'google-oauth2', protocol = 'oidc-basic-profile' } = {}) {
  const event = makeEvent({ connection, secrets, user: { app_metadata: policy === undefined ? {} : { entra_policy: policy } } });
  event.transaction.protocol = protocol;
  return event;
}

async function run(event, made = policyApi()) {
  const original = console.log;
  const lines = [];
  console.log = (...args) => lines.push(args.join(' '));
  try {
    await action.onExecutePostLogin(event, made.api);
  } finally {
    console.log = original;
  }
  return { ...made, lines };
}

test('mfa "required" asks Auth0 for any factor, without "remember this browser"', async () => {
  const { calls } = await run(login({ policy: { mfa: 'required', groups_version: 'v7' } }));
  assert.deepEqual(calls, [MFA]);
});

test('mfa "required" is not asked of a refresh-token exchange, which no one can answer', async () => {
  const { calls } = await run(login({ policy: { mfa: 'required' }, protocol: 'oauth2-refresh-token' }));
  assert.deepEqual(calls, []);
});

test('mfa "none" adds nothing and never switches off the tenant\'s own MFA', async () => {
  const { calls } = await run(login({ policy: { mfa: 'none' } }));
  assert.deepEqual(calls, []);
});

test('a connection in allowed_connections signs in; MFA still applies', async () => {
  const { calls } = await run(login({ policy: { mfa: 'Required', allowed_connections: ['partner-saml', 'google-oauth2'] } }));
  assert.deepEqual(calls, [MFA]);
});

test('a connection outside allowed_connections is denied with the ones to use, and no MFA is asked', async () => {
  const policy = { mfa: 'required', allowed_connections: ['partner-saml', 'Username-Password-Authentication'] };
  const { calls } = await run(login({ policy, connection: 'google-oauth2' }));
  assert.deepEqual(denials(calls), ['Your organisation requires you to sign in with partner-saml or your email address and password. Please sign in again and choose that option.']);
  assert.equal(calls.length, 1);
});

test('CONNECTION_LABELS gives connections the names people know', async () => {
  const secrets = { CONNECTION_LABELS: '{"partner-saml": "Contoso SSO"}' };
  const { calls } = await run(login({ policy: { allowed_connections: ['partner-saml'] }, secrets }));
  assert.deepEqual(denials(calls), ['Your organisation requires you to sign in with Contoso SSO. Please sign in again and choose that option.']);
  const broken = await run(login({ policy: { allowed_connections: ['google-oauth2'] }, connection: 'partner-saml', secrets: { CONNECTION_LABELS: 'not json' } }));
  assert.match(denials(broken.calls)[0], /sign in with Google\./);
  assert.match(broken.lines[0], /CONNECTION_LABELS is not a JSON object/);
});

test('a long list is cut short and an empty one says no sign-in is allowed', async () => {
  const many = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
  const { calls } = await run(login({ policy: { allowed_connections: many } }));
  assert.match(denials(calls)[0], /sign in with a1, a2, a3, a4 or another approved option\./);
  const none = await run(login({ policy: { allowed_connections: [] } }));
  assert.deepEqual(denials(none.calls), ['Your organisation has not allowed any way for your account to sign in here. Please contact your help desk.']);
});

test('no policy and no DEFAULT_POLICY: nothing happens', async () => {
  const { calls } = await run(login());
  assert.deepEqual(calls, []);
});

test('DEFAULT_POLICY covers users the companion has not reached, and only them', async () => {
  const secrets = { DEFAULT_POLICY: '{"mfa": "required", "allowed_connections": ["Username-Password-Authentication", "google-oauth2"]}' };
  const fresh = await run(login({ secrets }));
  assert.deepEqual(fresh.calls, [MFA]);
  const elsewhere = await run(login({ secrets, connection: 'partner-saml' }));
  assert.match(denials(elsewhere.calls)[0], /sign in with your email address and password or Google\./);
  const managed = await run(login({ secrets, policy: { mfa: 'none' }, connection: 'partner-saml' }));
  assert.deepEqual(managed.calls, []);
});

test('a malformed stored policy stops the login without throwing', async () => {
  for (const policy of ['required', ['mfa'], { mfa: 'sometimes' }, { mfa: true }, { allowed_connections: 'google-oauth2' }, { allowed_connections: ['ok', 7] }]) {
    const { calls, lines } = await run(login({ policy }));
    assert.deepEqual(denials(calls), ['Your account\'s sign-in policy could not be read, so sign-in was stopped to keep your account safe. Please contact your help desk.'], JSON.stringify(policy));
    assert.equal(calls.length, 1);
    assert.match(lines[0], /app_metadata\.entra_policy is malformed/);
  }
});

test('a malformed DEFAULT_POLICY is named in the denial so an administrator can fix it', async () => {
  for (const value of ['{mfa: required}', '"required"', '{"mfa": "always"}']) {
    const { calls } = await run(login({ secrets: { DEFAULT_POLICY: value } }));
    assert.deepEqual(denials(calls), ['Sign-in is misconfigured: an administrator must correct the secret DEFAULT_POLICY of the "entra-policy" Action (it is not a valid policy).'], value);
  }
});

test('an api that throws becomes a denial, never a throw', async () => {
  const made = policyApi();
  made.api.multifactor.enable = () => { throw new Error('factor service down'); };
  const { calls, lines } = await run(login({ policy: { mfa: 'required' } }), made);
  assert.match(denials(calls)[0], /could not be checked against your organisation's policy/);
  assert.match(lines[0], /\[entra-policy\] unexpected error: factor service down/);
});

test('the sandbox runtime plays it: a denied connection is reported as denied', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-policy-'));
  try {
    const user = path.join(dir, 'user.json');
    const secrets = path.join(dir, 'secrets.json');
    fs.writeFileSync(user, JSON.stringify({ user_id: 'google-oauth2|7', app_metadata: { entra_policy: { allowed_connections: ['partner-saml'] } } }));
    fs.writeFileSync(secrets, JSON.stringify({ CONNECTION_LABELS: '{"partner-saml": "Contoso SSO"}' }));
    const args = [path.join(__dirname, '..', 'sandbox', 'login.js'), '--action', path.join(__dirname, '..', 'entra-policy.js'),
      '--user', user, '--secrets', secrets, '--domain', DOMAIN, '--client-id', 'portal', '--connection', 'google-oauth2',
      '--strategy', 'google-oauth2', '--protocol', 'oidc-basic-profile'];
    const { stdout } = await promisify(execFile)(process.execPath, args);
    const report = JSON.parse(stdout);
    assert.equal(report.outcome, 'denied');
    assert.equal(report.deny_reason, 'Your organisation requires you to sign in with Contoso SSO. Please sign in again and choose that option.');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
