'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const action = require('../entra-profile-claims');
const { makeEvent, makeApi, DOMAIN } = require('./support/fakes');

const NS = 'https://entra.companion/';
const ENTRA = {
  object_id: '0a1b2c3d-0000-4000-8000-000000000002',
  upn: 'aoife.obrien@contoso.onmicrosoft.com',
  department: 'Engineering',
  jobTitle: 'Platform Engineer',
  officeLocation: 'Dublin',
  employeeId: 'E-1042',
  manager: 'admin@contoso.onmicrosoft.com',
  businessPhones: ['+353 1 555 0100', '+353 1 555 0101'],
  mobilePhone: null,
};

function eventWith(secrets, appMetadata = { entra: ENTRA }) {
  return makeEvent({ user: { app_metadata: appMetadata }, secrets });
}

/** The claims an api recorded, per token. */
function claimsOf(calls) {
  const pick = (name) => Object.fromEntries(calls.filter((c) => c[0] === name).map((c) => [c[1], c[2]]));
  return { id: pick('idToken.setCustomClaim'), access: pick('accessToken.setCustomClaim') };
}

/** Runs fn with console.log captured; returns the lines. */
async function captureLogs(fn) {
  const lines = [];
  const original = console.log;
  console.log = (...args) => lines.push(args.join(' '));
  try {
    await fn();
  } finally {
    console.log = original;
  }
  return lines;
}

test('the listed attributes become namespaced ID-token claims, and nothing else', async () => {
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'department, jobTitle,employeeId' }), api);
  assert.deepEqual(claimsOf(calls), {
    id: { [`${NS}department`]: 'Engineering', [`${NS}jobTitle`]: 'Platform Engineer', [`${NS}employeeId`]: 'E-1042' },
    access: {},
  });
  assert.equal(calls.filter((c) => c[0] === 'access.deny').length, 0);
});

test('missing, null and empty attributes are skipped', async () => {
  const { api, calls } = makeApi();
  const entra = { ...ENTRA, officeLocation: '' };
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'department,costCenter,mobilePhone,officeLocation' }, { entra }), api);
  assert.deepEqual(claimsOf(calls).id, { [`${NS}department`]: 'Engineering' });
});

test('arrays stay arrays', async () => {
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'businessPhones' }), api);
  assert.deepEqual(claimsOf(calls).id[`${NS}businessPhones`], ['+353 1 555 0100', '+353 1 555 0101']);
});

test('CLAIM_NAMESPACE is the prefix, with a slash added when it lacks one', async () => {
  const { api, calls } = makeApi();
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'department', CLAIM_NAMESPACE: 'https://claims.contoso.com/entra' }), api);
  assert.deepEqual(claimsOf(calls).id, { 'https://claims.contoso.com/entra/department': 'Engineering' });
});

test('a namespace Auth0 refuses, or no URL at all, adds no claim and says why in the log', async () => {
  for (const namespace of ['https://contoso.auth0.com/', 'https://x.webtask.run/', 'department', 'urn:auth0:x']) {
    const { api, calls } = makeApi();
    const lines = await captureLogs(() => action.onExecutePostLogin(eventWith({ CLAIMS: 'department', CLAIM_NAMESPACE: namespace }), api));
    assert.deepEqual(calls, [], namespace);
    assert.match(lines.join('\n'), /CLAIM_NAMESPACE must be an http\(s\) URL/);
  }
});

test('ACCESS_TOKEN_CLAIMS "true" mirrors every claim into the access token; other values do not', async () => {
  const mirrored = makeApi();
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'department,businessPhones', ACCESS_TOKEN_CLAIMS: ' TRUE ' }), mirrored.api);
  const { id, access } = claimsOf(mirrored.calls);
  assert.deepEqual(access, id);
  assert.deepEqual(Object.keys(access), [`${NS}department`, `${NS}businessPhones`]);
  const plain = makeApi();
  await action.onExecutePostLogin(eventWith({ CLAIMS: 'department', ACCESS_TOKEN_CLAIMS: 'yes' }), plain.api);
  assert.deepEqual(claimsOf(plain.calls).access, {});
});

test('PROFILE_NAMESPACE names the app_metadata key the profile is read from', async () => {
  const { api, calls } = makeApi();
  const event = eventWith({ CLAIMS: 'department', PROFILE_NAMESPACE: 'entra_profile' }, { entra: ENTRA, entra_profile: { department: 'Sales' } });
  await action.onExecutePostLogin(event, api);
  assert.deepEqual(claimsOf(calls).id, { [`${NS}department`]: 'Sales' });
});

test('an oversized value is skipped with a log line that names the attribute but not the value', async () => {
  const { api, calls } = makeApi();
  const entra = { ...ENTRA, aboutMe: `secret-${'x'.repeat(3000)}` };
  const lines = await captureLogs(() => action.onExecutePostLogin(eventWith({ CLAIMS: 'aboutMe,department' }, { entra }), api));
  assert.deepEqual(claimsOf(calls).id, { [`${NS}department`]: 'Engineering' });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^\[entra-profile-claims\] skipping attribute aboutMe: 30\d\d bytes is over the 2048-byte limit/);
  assert.doesNotMatch(lines[0], /secret-/);
  assert.ok(lines[0].length <= 256);
});

test('no CLAIMS secret, no profile yet, or a malformed profile: no claim and no throw', async () => {
  const cases = [
    [{}, { entra: ENTRA }],
    [{ CLAIMS: 'department' }, {}],
    [{ CLAIMS: 'department' }, { entra: 'Engineering' }],
    [{ CLAIMS: 'department' }, { entra: ['Engineering'] }],
    [{ CLAIMS: 'department' }, null],
  ];
  for (const [secrets, metadata] of cases) {
    const { api, calls } = makeApi();
    const event = eventWith(secrets, metadata);
    await captureLogs(() => action.onExecutePostLogin(event, api));
    assert.deepEqual(calls, [], JSON.stringify([secrets, metadata]));
  }
});

test('malformed attribute names are ignored and the rest still become claims', async () => {
  const { api, calls } = makeApi();
  const lines = await captureLogs(() => action.onExecutePostLogin(eventWith({ CLAIMS: 'department,__proto__.x,job title' }), api));
  assert.deepEqual(claimsOf(calls).id, { [`${NS}department`]: 'Engineering' });
  assert.match(lines[0], /malformed attribute name\(s\) in CLAIMS: __proto__\.x, job title/);
});

test('an api that throws never fails the login', async () => {
  const { api, calls } = makeApi();
  api.idToken.setCustomClaim = () => { throw new Error('token too large'); };
  const lines = await captureLogs(() => action.onExecutePostLogin(eventWith({ CLAIMS: 'department' }), api));
  assert.deepEqual(calls, []);
  assert.match(lines[0], /unexpected error, no claims added: token too large/);
});

test('the sandbox runtime plays it: claims in the report, login allowed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'entra-claims-'));
  try {
    const user = path.join(dir, 'user.json');
    const secrets = path.join(dir, 'secrets.json');
    fs.writeFileSync(user, JSON.stringify({ user_id: 'auth0|42', email: 'aoife@example.org', app_metadata: { entra: ENTRA } }));
    fs.writeFileSync(secrets, JSON.stringify({ CLAIMS: 'department,businessPhones', ACCESS_TOKEN_CLAIMS: 'true' }));
    const args = [path.join(__dirname, '..', 'sandbox', 'login.js'), '--action', path.join(__dirname, '..', 'entra-profile-claims.js'),
      '--user', user, '--secrets', secrets, '--domain', DOMAIN, '--client-id', 'portal', '--protocol', 'oidc-basic-profile'];
    const { stdout } = await promisify(execFile)(process.execPath, args);
    const report = JSON.parse(stdout);
    assert.equal(report.outcome, 'allowed');
    assert.deepEqual(report.id_token_claims, { [`${NS}department`]: 'Engineering', [`${NS}businessPhones`]: ENTRA.businessPhones });
    assert.deepEqual(report.access_token_claims, report.id_token_claims);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
