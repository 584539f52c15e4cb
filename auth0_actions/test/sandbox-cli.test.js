'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { signHs256 } = require('../sandbox/jwt');
const { startCompanion, verifyJwt, SECRET, DOMAIN, O365_CLIENT_ID } = require('./support/fakes');

const ROOT = path.join(__dirname, '..');
const LOGIN = path.join(ROOT, 'sandbox', 'login.js');
const PROVISIONING = path.join(ROOT, 'office365-provisioning.js');
const PREPROVISION = path.join(ROOT, 'office365-preprovision.js');
const READY = { upn: 'ann@partners.contoso.com', immutable_id: 'q83vEjRWeJCrze8SNFZ4kA==', object_id: 'oid-1' };

/** A companion that follows the contract; the user id's suffix picks the scenario. */
function companionRoute(base) {
  const visits = new Map();
  const continueUrl = (state, claims) => {
    const now = Math.floor(Date.now() / 1000);
    const token = signHs256({ iss: base(), state, iat: now, exp: now + 300, ...claims }, SECRET);
    return `https://${DOMAIN}/continue?state=${encodeURIComponent(state)}&session_token=${token}`;
  };
  return (req, body, send, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST') return send(body.mode === 'async' ? 202 : 200, body.mode === 'async' ? { status: 'pending' } : { status: 'ready', ...READY });
    const claims = verifyJwt(url.searchParams.get('session_token'), SECRET);
    assert.equal(claims.iss, DOMAIN);
    const state = url.searchParams.get('state');
    const scenario = claims.sub.split('|')[1];
    const seen = visits.get(state) || 0;
    visits.set(state, seen + 1);
    const html = (status, inner, headers = {}) => { res.writeHead(status, { 'content-type': 'text/html', ...headers }); res.end(`<!doctype html><html><head>${inner}</head></html>`); };
    if (scenario === 'ready' && seen === 0) {
      const again = `/o365/start?state=${encodeURIComponent(state)}&amp;session_token=${url.searchParams.get('session_token')}`;
      return html(200, `<meta http-equiv="refresh" content="2;url=${again}">`, { 'set-cookie': 'sid=abc; HttpOnly; Path=/' });
    }
    if (scenario === 'ready') {
      assert.equal(req.headers.cookie, 'sid=abc');
      res.writeHead(302, { location: continueUrl(state, { sub: claims.sub, status: 'ready', ...READY }) });
      return res.end();
    }
    if (scenario === 'failed') {
      const link = continueUrl(state, { sub: claims.sub, status: 'failed', reason: 'No Office 365 licences are left.', reference: 'req-77' }).replace(/&/g, '&amp;');
      return html(200, `</head><body><p>No licences.</p><a class="button" href="${link}">Return to sign-in</a>`);
    }
    if (scenario === 'forged') {
      res.writeHead(302, { location: continueUrl('forged-state', { sub: claims.sub, status: 'ready', ...READY }) });
      return res.end();
    }
    return html(500, '<title>Internal error</title>');
  };
}

async function withCompanion(fn) {
  let base;
  const companion = await startCompanion(companionRoute(() => base));
  base = companion.base;
  try {
    return await fn(companion);
  } finally {
    await companion.close();
  }
}

/** Runs the CLI; returns {code, report, stderr}. */
async function login(companion, userId, extra = [], action = PROVISIONING) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-cli-'));
  const user = path.join(dir, 'user.json');
  const secrets = path.join(dir, 'secrets.json');
  fs.writeFileSync(user, JSON.stringify({ user_id: userId, email: 'ann@example.org', email_verified: true, name: 'Ann' }));
  fs.writeFileSync(secrets, JSON.stringify({ COMPANION_URL: companion.base, COMPANION_SECRET: SECRET, OFFICE365_CLIENT_ID: O365_CLIENT_ID }));
  const args = [LOGIN, '--action', action, '--user', user, '--secrets', secrets, '--domain', DOMAIN, '--client-id', O365_CLIENT_ID,
    '--connection', 'google-oauth2', '--strategy', 'google-oauth2', '--country', 'gb', '--fast-refresh', '--max-wait-s', '20', ...extra];
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args);
    return { code: 0, report: JSON.parse(stdout), stderr };
  } catch (err) {
    return { code: err.code, report: null, stderr: err.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('redirect flow: waiting page, cookie kept, /continue, claims and metadata', async () => {
  const { report } = await withCompanion((companion) => login(companion, 'google-oauth2|ready'));
  assert.equal(report.outcome, 'allowed', JSON.stringify(report));
  assert.equal(report.deny_reason, null);
  assert.deepEqual([report.waiting_pages, report.companion_requests, report.action_requests], [1, 2, 0]);
  assert.equal(report.saml.attributes['http://schemas.xmlsoap.org/claims/UPN'], READY.upn);
  assert.deepEqual(report.saml.nameIdentifierProbes, ['http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID']);
  assert.equal(report.app_metadata.entra_companion.object_id, 'oid-1');
  assert.deepEqual(report.steps.map((s) => s.step), ['onExecutePostLogin', 'redirect', 'waiting_page', 'continue', 'onContinuePostLogin', 'done']);
  assert.equal(typeof report.total_ms, 'number');
  assert.ok(!JSON.stringify(report).includes(SECRET));
});

test('a failure page with a link back to /continue ends in a denial with the reference', async () => {
  const { report } = await withCompanion((companion) => login(companion, 'google-oauth2|failed'));
  assert.equal(report.outcome, 'denied');
  assert.equal(report.deny_reason, 'No Office 365 licences are left. (reference req-77)');
  assert.deepEqual(report.app_metadata, {});
});

test('a resume with a state Auth0 did not issue is refused by the runtime', async () => {
  const { report } = await withCompanion((companion) => login(companion, 'google-oauth2|forged'));
  assert.equal(report.outcome, 'denied');
  assert.match(report.error, /state Auth0 did not issue/);
});

test('a companion error page is recorded as the failure', async () => {
  const { report } = await withCompanion((companion) => login(companion, 'google-oauth2|broken'));
  assert.equal(report.outcome, 'denied');
  assert.match(report.error, /HTTP 500 at http:\/\/127\.0\.0\.1:\d+\/o365\/start/);
  assert.equal(report.companion_requests, 1);
});

test('--no-redirect takes the inline path: one Action request, no browser', async () => {
  const { report } = await withCompanion((companion) => login(companion, 'google-oauth2|inline', ['--no-redirect']));
  assert.equal(report.outcome, 'allowed', JSON.stringify(report));
  assert.deepEqual([report.action_requests, report.companion_requests, report.redirected], [1, 0, false]);
});

test('--trigger post-user-registration plays the pre-provisioning Action', async () => {
  const { report, requests } = await withCompanion(async (companion) => ({ ...(await login(companion, 'auth0|new', ['--trigger', 'post-user-registration'], PREPROVISION)), requests: companion.requests }));
  assert.equal(report.outcome, 'allowed');
  assert.equal(report.action_requests, 1);
  assert.deepEqual(report.logs, ['[office365-preprovision] pre-provisioning accepted']);
  assert.deepEqual([requests[0].body.mode, requests[0].body.usage_location, requests[0].body.connection], ['async', 'GB', 'google-oauth2']);
});

test('the harness exits 2 with a message when its input is unusable', async () => {
  const { code, stderr } = await login({ base: 'http://127.0.0.1:9' }, 'x', ['--trigger', 'pre-login']);
  assert.equal(code, 2);
  assert.match(stderr, /--trigger must be post-login or post-user-registration/);
});
