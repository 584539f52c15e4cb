/**
 * Office 365 pre-provisioning: Auth0 post-user-registration Action (v2), optionally also bound to post-login (v3).
 *
 * Asks the Entra Companion to create the person's Entra ID account in the background right after sign-up, so
 * that the first Office 365 login finds it ready. Post-user-registration runs only for database and
 * passwordless sign-ups, is non-blocking and has no api.access (customize/actions/explore-triggers/
 * post-user-registration): failures are only logged. Social and enterprise users are created on their first
 * login, so the same code, deployed as a second Action bound to post-login and switched on with the secret
 * PREPROVISION_ON_LOGIN="true", asks for them when they log in to any other application.
 *
 * Actions are single files, so the few helpers shared with office365-provisioning.js are repeated here.
 * Secrets: COMPANION_URL, COMPANION_SECRET (required); SKIP_CONNECTIONS, OFFICE365_CLIENT_ID,
 * PREPROVISION_ON_LOGIN (optional).
 */
'use strict';

const crypto = require('node:crypto');

const ACTION_NAME = 'office365-preprovision';
const REGISTRATION_TIMEOUT_MS = 5000; // under Auth0's 10 s per outbound call (action-coding-guidelines.mdx)
const LOGIN_TIMEOUT_MS = 2000; // a login is never held up longer than this
const ASKED_TTL_MS = 10 * 60 * 1000; // api.cache ttl is in milliseconds (post-login api object, api.cache.set)

/** Post-user-registration entry point: request asynchronous provisioning; never throws. */
exports.onExecutePostUserRegistration = async (event) => {
  try {
    const outcome = await preprovision(event, REGISTRATION_TIMEOUT_MS);
    log(`pre-provisioning ${outcome}`);
  } catch (err) {
    log(`unexpected error: ${err && err.message}`);
  }
};

/** Optional post-login entry point: the same request for users not provisioned yet; never blocks long. */
exports.onExecutePostLogin = async (event, api) => {
  try {
    if (!wantedOnLogin(event)) return;
    const key = cacheKey(event.user.user_id);
    if (cachedValue(api, key)) return; // asked a moment ago (best effort: the cache is not guaranteed)
    // Awaited with a short timeout rather than left dangling: work still running after the handler
    // returns may be frozen or dropped with the execution.
    const outcome = await preprovision(event, LOGIN_TIMEOUT_MS);
    if (outcome === 'accepted') api.cache.set(key, '1', { ttl: ASKED_TTL_MS });
    else log(`pre-provisioning on login ${outcome}`);
  } catch (err) {
    log(`unexpected error on login: ${err && err.message}`);
  }
};

/** Only when switched on, outside the Office 365 client, for interactive logins of unprovisioned users. */
function wantedOnLogin(event) {
  const secrets = event.secrets || {};
  if (secrets.PREPROVISION_ON_LOGIN !== 'true') return false;
  const clientId = event.client && event.client.client_id;
  // The Office 365 client is handled by office365-provisioning, which waits for the account itself.
  if (clientId && splitList(secrets.OFFICE365_CLIENT_ID).includes(clientId)) return false;
  if (event.transaction && event.transaction.protocol === 'oauth2-refresh-token') return false;
  const meta = (event.user && event.user.app_metadata) || {};
  const current = meta.entra_companion || {};
  return !(current.immutable_id || meta.office365ImmutableId);
}

function cacheKey(userId) {
  // Cache keys are limited to 64 bytes (limitations.mdx); user ids can be longer.
  return `o365pp:${crypto.createHash('sha256').update(String(userId)).digest('hex').slice(0, 40)}`;
}

function cachedValue(api, key) {
  const record = api.cache && typeof api.cache.get === 'function' ? api.cache.get(key) : undefined;
  return record && record.value;
}

/** Sends the async provisioning request; returns a short outcome for the log. */
async function preprovision(event, timeoutMs) {
  const secrets = event.secrets || {};
  const missing = ['COMPANION_URL', 'COMPANION_SECRET'].filter((name) => !secrets[name]);
  if (missing.length) return `not configured: set the secret(s) ${missing.join(', ')} on the "${ACTION_NAME}" Action`;
  if (splitList(secrets.SKIP_CONNECTIONS).includes(event.connection && event.connection.name)) return 'skipped (connection)';
  const base = companionBase(secrets.COMPANION_URL);
  if (!base) return 'not configured: COMPANION_URL must be an https URL';
  const status = await postJson(`${base}/v1/o365/provision`, requestBody(event), secrets.COMPANION_SECRET, event.user.user_id, timeoutMs);
  return status === 202 ? 'accepted' : `not accepted: ${status}`;
}

function requestBody(event) {
  const user = event.user || {};
  return compact({
    user_id: user.user_id,
    email: clip(user.email, 254),
    email_verified: typeof user.email_verified === 'boolean' ? user.email_verified : undefined,
    name: clip(user.name),
    nickname: clip(user.nickname),
    given_name: clip(user.given_name),
    family_name: clip(user.family_name),
    username: clip(user.username),
    connection: clip(event.connection && event.connection.name),
    usage_location: usageLocation(event),
    mode: 'async',
  });
}

/** POSTs under an AbortController timeout; returns the HTTP status, or a word for what went wrong. */
async function postJson(url, body, secret, userId, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${companionJwt(secret, userId)}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    await res.arrayBuffer(); // drain the body so the connection is released
    return res.status === 202 ? 202 : `HTTP ${res.status}`;
  } catch (err) {
    return controller.signal.aborted ? `no answer within ${timeoutMs} ms` : `unreachable (${err && err.message})`;
  } finally {
    clearTimeout(timer);
  }
}

function splitList(value) {
  return String(value || '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** The companion's base URL without a trailing slash; https only, plain http only on loopback. */
function companionBase(value) {
  let url;
  try {
    url = new URL(String(value || ''));
  } catch (err) {
    return null;
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return null;
  if (url.search || url.hash || url.username || url.password) return null;
  return url.href.replace(/\/+$/, '');
}

function clip(value, max = 128) {
  return typeof value === 'string' && value ? value.slice(0, max) : undefined;
}

function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined));
}

/** Entra's usageLocation: metadata first, then the sign-up's country. */
function usageLocation(event) {
  const user = event.user || {};
  const geoip = (event.request && event.request.geoip) || {};
  const candidates = [(user.app_metadata || {}).usage_location, (user.user_metadata || {}).country, geoip.countryCode];
  const found = candidates.find((value) => typeof value === 'string' && /^[A-Za-z]{2}$/.test(value));
  return found ? found.toUpperCase() : undefined;
}

/** A 60-second HS256 JWT for the companion, signed with node:crypto (no npm module). */
function companionJwt(secret, userId) {
  const iat = Math.floor(Date.now() / 1000);
  const encode = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const signingInput = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ iss: 'auth0-action', aud: 'entra-companion', sub: userId, iat, exp: iat + 60 })}`;
  return `${signingInput}.${crypto.createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** console.log keeps 256 characters in Auth0; never log tokens or secrets. */
function log(message) {
  console.log(`[${ACTION_NAME}] ${message}`.slice(0, 256));
}
