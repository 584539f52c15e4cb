'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const DEPLOY = path.join(__dirname, '..', 'deploy');
const yaml = fs.readFileSync(path.join(DEPLOY, 'tenant.yaml'), 'utf8');
const config = JSON.parse(fs.readFileSync(path.join(DEPLOY, 'config.example.json'), 'utf8'));

/** The `actions:` entries of tenant.yaml, read line by line (the file keeps one simple shape). */
function actions() {
  const section = yaml.split(/^actions:\s*$/m)[1].split(/^triggers:\s*$/m)[0];
  return section.split(/^ {2}- name: /m).slice(1).map((block) => ({
    name: block.split('\n')[0].trim(),
    code: (block.match(/^ {4}code: (\S+)$/m) || [])[1],
    runtime: (block.match(/^ {4}runtime: (\S+)$/m) || [])[1],
    dependencies: (block.match(/^ {4}dependencies: (.*)$/m) || [])[1],
    secrets: [...block.matchAll(/^ {6}- name: ([A-Z0-9_]+)$/gm)].map((m) => m[1]),
    trigger: [...block.matchAll(/^ {6}- id: (\S+)\n {8}version: (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`),
  }));
}

test('every keyword in tenant.yaml has a mapping in config.example.json, and no mapping is unused', () => {
  const used = new Set([...yaml.matchAll(/##([A-Z0-9_]+)##/g)].map((m) => m[1]));
  assert.deepEqual([...used].sort(), Object.keys(config.AUTH0_KEYWORD_REPLACE_MAPPINGS).sort());
  // Unquoted, `##…##` would start a YAML comment.
  assert.doesNotMatch(yaml, /value: ##/);
});

test('each Action is node22, has no dependencies, one trigger, and the secrets its code requires', () => {
  const required = { 'office365-provisioning.js': ['OFFICE365_CLIENT_ID', 'COMPANION_URL', 'COMPANION_SECRET'], 'office365-preprovision.js': ['COMPANION_URL', 'COMPANION_SECRET'], 'entra-policy.js': [], 'entra-profile-claims.js': [] };
  const found = actions();
  assert.deepEqual(found.map((a) => `${a.name}: ${a.trigger}`), [
    'office365-provisioning: post-login v3',
    'office365-preprovision: post-user-registration v2',
    'office365-preprovision-on-login: post-login v3',
    'entra-policy: post-login v3',
    'entra-profile-claims: post-login v3',
  ]);
  for (const action of found) {
    assert.equal(action.runtime, 'node22');
    assert.equal(action.dependencies, '[]');
    const file = path.resolve(DEPLOY, action.code);
    assert.ok(fs.existsSync(file), `${action.code} exists`);
    for (const name of required[path.basename(file)]) assert.ok(action.secrets.includes(name), `${action.name} declares ${name}`);
    const read = new Set([...fs.readFileSync(file, 'utf8').matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]));
    for (const name of action.secrets) assert.ok(read.has(name), `${action.name} reads ${name}`);
  }
  assert.ok(found.find((a) => a.name === 'office365-preprovision-on-login').secrets.includes('PREPROVISION_ON_LOGIN'));
});

test('the trigger bindings name declared Actions, with the provisioning Action last in post-login', () => {
  const names = new Set(actions().map((a) => a.name));
  const triggers = yaml.split(/^triggers:\s*$/m)[1];
  const postLogin = triggers.split(/^ {2}post-user-registration:/m)[0];
  const bound = [...postLogin.matchAll(/action_name: (\S+)/g)].map((m) => m[1]);
  assert.ok(bound.every((name) => names.has(name)));
  assert.equal(bound[bound.length - 1], 'office365-provisioning');
  assert.match(triggers, /post-user-registration:\n {4}- action_name: office365-preprovision\n/);
});

test('the Action code holds no keyword marker the Deploy CLI would replace', () => {
  for (const file of ['office365-provisioning.js', 'office365-preprovision.js']) {
    const code = fs.readFileSync(path.join(__dirname, '..', file), 'utf8');
    assert.doesNotMatch(code, /##[A-Za-z0-9_]+##|@@[A-Za-z0-9_]+@@/);
  }
});

test('config.example.json keeps the import to Actions and triggers and holds no credential', () => {
  assert.deepEqual(config.AUTH0_INCLUDED_ONLY, ['actions', 'triggers']);
  assert.equal(config.AUTH0_ALLOW_DELETE, false);
  assert.equal(config.AUTH0_CLIENT_SECRET, undefined);
  assert.match(config.AUTH0_KEYWORD_REPLACE_MAPPINGS.COMPANION_SECRET, /^<.*>$/);
});
