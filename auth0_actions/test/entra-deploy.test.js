'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const yaml = fs.readFileSync(path.join(ROOT, 'deploy', 'tenant.yaml'), 'utf8');
const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'config.example.json'), 'utf8'));
const policy = require('../entra-policy');
const claims = require('../entra-profile-claims');

/** The secret names one Action declares in tenant.yaml. */
function declaredSecrets(name) {
  const block = yaml.split(/^ {2}- name: /m).find((part) => part.startsWith(`${name}\n`));
  assert.ok(block, `${name} is declared`);
  return [...block.split(/^triggers:/m)[0].matchAll(/^ {6}- name: ([A-Z0-9_]+)$/gm)].map((m) => m[1]);
}

test('both Actions declare every secret they read, each with a keyword of its own name', () => {
  for (const [name, file] of [['entra-policy', 'entra-policy.js'], ['entra-profile-claims', 'entra-profile-claims.js']]) {
    const code = fs.readFileSync(path.join(ROOT, file), 'utf8');
    const read = [...new Set([...code.matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]))].sort();
    assert.deepEqual(declaredSecrets(name).sort(), read, name);
    for (const secret of read) assert.match(yaml, new RegExp(`- name: ${secret}\\n {8}value: '##${secret}##'`));
    assert.doesNotMatch(code, /##[A-Za-z0-9_]+##|@@[A-Za-z0-9_]+@@/);
  }
});

test('post-login runs the policy first, then the claims, then the Office 365 Actions', () => {
  const postLogin = yaml.split(/^triggers:\s*$/m)[1].split(/^ {2}post-user-registration:/m)[0];
  const bound = [...postLogin.matchAll(/action_name: (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(bound, ['entra-policy', 'entra-profile-claims', 'office365-preprovision-on-login', 'office365-provisioning']);
});

test('the example mappings are safe to deploy as they are', async () => {
  const mappings = config.AUTH0_KEYWORD_REPLACE_MAPPINGS;
  const calls = [];
  const api = {
    access: { deny: (reason) => calls.push(['deny', reason]) },
    multifactor: { enable: (...args) => calls.push(['mfa', ...args]) },
    idToken: { setCustomClaim: (key, value) => calls.push(['id', key, value]) },
    accessToken: { setCustomClaim: (key, value) => calls.push(['access', key, value]) },
  };
  const event = {
    user: { user_id: 'auth0|1', app_metadata: { entra: { department: 'Sales', jobTitle: 'Rep' } } },
    connection: { name: 'Username-Password-Authentication', strategy: 'auth0' },
    transaction: { protocol: 'oidc-basic-profile' },
    secrets: mappings,
  };
  await policy.onExecutePostLogin(event, api);
  await claims.onExecutePostLogin(event, api);
  // "{}" policies enforce nothing; the claims are the example's, in the ID token only.
  assert.deepEqual(calls, [['id', 'https://entra.companion/department', 'Sales'], ['id', 'https://entra.companion/jobTitle', 'Rep']]);
});
