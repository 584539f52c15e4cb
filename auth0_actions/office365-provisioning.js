/**
 * Office 365 provisioning: Auth0 post-login Action (trigger post-login v3, runtime node22, no npm modules).
 *
 * For logins to the Office 365 / WS-Fed application only, it makes sure the person has a Microsoft Entra ID
 * account (created by the Entra Companion service) and puts that account's UPN and ImmutableID in the WS-Fed
 * token. It replaces Auth0's Rule-based "Office 365 custom provisioning" sample; Rules stop running on
 * 18 Nov 2026 (auth0/docs-v2: troubleshoot/product-lifecycle/deprecations-and-migrations.mdx).
 *
 * Secrets: OFFICE365_CLIENT_ID, COMPANION_URL, COMPANION_SECRET (required); SKIP_CONNECTIONS, UPN_CLAIM_URI,
 * IMMUTABLEID_CLAIM_URI, NAMEID_FORMAT, INLINE_BUDGET_MS (optional). See auth0_actions/README.md.
 */
'use strict';

const crypto = require('node:crypto');

const ACTION_NAME = 'office365-provisioning';
const DEFAULT_UPN_CLAIM = 'http://schemas.xmlsoap.org/claims/UPN';
const DEFAULT_IMMUTABLEID_CLAIM = 'http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID';
const DEFAULT_NAMEID_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const REDIRECT_TOKEN_LIFETIME_S = 600;
// The whole post-login trigger (every bound Action) has 20 s (customize/actions/limitations.mdx); the
// inline path keeps well inside it, and each outbound call stays under 10 s (action-coding-guidelines.mdx).
const DEFAULT_INLINE_BUDGET_MS = 8000;
const INLINE_BUDGET_RANGE_MS = [500, 12000];
const MAX_CALL_MS = 8000;
const MIN_CALL_MS = 200;
const BACKOFF_MS = [250, 500, 1000, 2000];
const MAX_RETRY_AFTER_MS = 3000;
const PENDING_MESSAGE = 'Your Office 365 account is still being prepared. Please try again in a minute.';
const UNAVAILABLE_MESSAGE = 'The Office 365 account service is unavailable right now. Please try again in a few minutes.';
const UNEXPECTED_MESSAGE = 'Office 365 sign-in could not be completed because the account service gave an unexpected answer. Please try again later or contact your help desk.';
const CRASH_MESSAGE = 'Office 365 sign-in failed unexpectedly. Please try again; if it keeps failing, contact your help desk.';

/** Post-login entry point: emit the Entra claims, provisioning the account first when needed. */
exports.onExecutePostLogin = async (event, api) => {
  try {
    await executePostLogin(event, api);
  } catch (err) {
    // Never let an error escape: Auth0 would fail the login with a generic message (limitations.mdx).
    log('unexpected error', err);
    api.access.deny(CRASH_MESSAGE);
  }
};

/** Resumes after the companion sent the browser to /continue with its signed result. */
exports.onContinuePostLogin = async (event, api) => {
  try {
    continuePostLogin(event, api);
  } catch (err) {
    log('unexpected error on continue', err);
    api.access.deny(CRASH_MESSAGE);
  }
};

async function executePostLogin(event, api) {
  const secrets = event.secrets || {};
  // Without the client id the Action cannot tell Office 365 logins apart, so it fails closed.
  if (!secrets.OFFICE365_CLIENT_ID) return denyMissingSecrets(api, missingSecrets(secrets));
  if (!isOffice365Client(event, secrets) || isSkippedConnection(event, secrets)) return;
  const known = provisionedIdentity(event.user);
  if (known) return emitClaims(api, secrets, known); // fast path: no network call at all
  const missing = missingSecrets(secrets);
  if (missing.length) return denyMissingSecrets(api, missing);
  const base = companionBase(secrets.COMPANION_URL);
  if (!base) return denyBadCompanionUrl(api);
  if (canRedirect(api)) return sendToCompanion(event, api, secrets, base);
  return provisionInline(event, api, { secret: secrets.COMPANION_SECRET, userId: event.user.user_id, base, secrets });
}

function continuePostLogin(event, api) {
  const secrets = event.secrets || {};
  const missing = missingSecrets(secrets);
  if (missing.length) return denyMissingSecrets(api, missing);
  const result = readResultToken(event, api, secrets);
  if (!result) return;
  if (result.status === 'ready') return acceptReady(api, secrets, result);
  if (result.status === 'failed') return api.access.deny(failureMessage(result));
  api.access.deny(UNEXPECTED_MESSAGE);
}

// ---------------------------------------------------------------- configuration and scope

function missingSecrets(secrets) {
  return ['OFFICE365_CLIENT_ID', 'COMPANION_URL', 'COMPANION_SECRET'].filter((name) => !secrets[name]);
}

function denyMissingSecrets(api, names) {
  api.access.deny(`Office 365 sign-in is not configured yet: an administrator must set the secret(s) ${names.join(', ')} on the "${ACTION_NAME}" Action.`);
}

function denyBadCompanionUrl(api) {
  api.access.deny(`Office 365 sign-in is misconfigured: an administrator must set the secret COMPANION_URL of the "${ACTION_NAME}" Action to the companion's https URL.`);
}

function splitList(value) {
  return String(value || '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** True for the Office 365 application(s); the secret may list several client ids, comma-separated. */
function isOffice365Client(event, secrets) {
  const clientId = event.client && event.client.client_id;
  return Boolean(clientId) && splitList(secrets.OFFICE365_CLIENT_ID).includes(clientId);
}

/** Connections whose users Entra already knows (e.g. AD synchronised by Entra Connect) are left alone. */
function isSkippedConnection(event, secrets) {
  const name = event.connection && event.connection.name;
  return Boolean(name) && splitList(secrets.SKIP_CONNECTIONS).includes(name);
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

function normalisedUrl(value) {
  try {
    return new URL(String(value)).href.replace(/\/+$/, '');
  } catch (err) {
    return null;
  }
}

function canRedirect(api) {
  return Boolean(api.redirect && typeof api.redirect.canRedirect === 'function' && api.redirect.canRedirect());
}

// ---------------------------------------------------------------- identity and claims

function isIdentity(upn, immutableId) {
  return typeof upn === 'string' && /^[^@\s]+@[^@\s]+$/.test(upn)
    && typeof immutableId === 'string' && immutableId.length > 0 && immutableId.length <= 2048;
}

/** The Entra identity already recorded for this user: ours, or the one the old Rule stored. */
function provisionedIdentity(user) {
  const meta = (user && user.app_metadata) || {};
  const current = meta.entra_companion || {};
  if (isIdentity(current.upn, current.immutable_id)) return { upn: current.upn, immutableId: current.immutable_id };
  // Tenants migrating from Auth0's Rule keep their users: the Rule stored office365UPN/office365ImmutableId.
  if (isIdentity(meta.office365UPN, meta.office365ImmutableId)) {
    return { upn: meta.office365UPN, immutableId: meta.office365ImmutableId };
  }
  return null;
}

/** Puts the UPN and ImmutableID claims Entra expects for a federated domain into the WS-Fed token. */
function emitClaims(api, secrets, identity) {
  const upnClaim = secrets.UPN_CLAIM_URI || DEFAULT_UPN_CLAIM;
  const immutableIdClaim = secrets.IMMUTABLEID_CLAIM_URI || DEFAULT_IMMUTABLEID_CLAIM;
  const saml = api.samlResponse;
  // Auth0 otherwise derives its own UPN claim from the profile, which could clash with the Entra UPN
  // set here (configure-ws-fed-applications.mdx shows the same call for WS-Fed applications).
  saml.setCreateUpnClaim(false);
  // The identities array is of no use to Entra and only eats into the 10 kB assertion limit.
  saml.setMapIdentities(false);
  saml.setAttribute(upnClaim, identity.upn);
  saml.setAttribute(immutableIdClaim, identity.immutableId);
  // Entra matches the federated user on NameID = ImmutableID; the probe makes Auth0 take it from that claim.
  saml.setNameIdentifierProbes([immutableIdClaim]);
  saml.setNameIdentifierFormat(secrets.NAMEID_FORMAT || DEFAULT_NAMEID_FORMAT);
}

/** Records the companion's answer on the user, then emits the claims. */
function acceptReady(api, secrets, result) {
  if (!isIdentity(result.upn, result.immutable_id)) return api.access.deny(UNEXPECTED_MESSAGE);
  api.user.setAppMetadata('entra_companion', {
    upn: result.upn,
    immutable_id: result.immutable_id,
    object_id: typeof result.object_id === 'string' ? result.object_id : null,
    provisioned_at: new Date().toISOString(),
  });
  emitClaims(api, secrets, { upn: result.upn, immutableId: result.immutable_id });
}

function cleanText(value, max) {
  return typeof value === 'string' ? value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, max) : '';
}

function withReference(message, reference) {
  const ref = cleanText(reference, 80);
  return ref ? `${message} (reference ${ref})` : message;
}

function failureMessage(result) {
  return withReference(cleanText(result.reason, 400) || 'Your Office 365 account could not be set up.', result.reference);
}

// ---------------------------------------------------------------- what the companion is told

function clip(value, max = 128) {
  return typeof value === 'string' && value ? value.slice(0, max) : undefined;
}

function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined));
}

/** Entra's usageLocation (needed before a licence is assigned): metadata first, then the login's country. */
function usageLocation(event) {
  const user = event.user || {};
  const geoip = (event.request && event.request.geoip) || {};
  const candidates = [(user.app_metadata || {}).usage_location, (user.user_metadata || {}).country, geoip.countryCode];
  const found = candidates.find((value) => typeof value === 'string' && /^[A-Za-z]{2}$/.test(value));
  return found ? found.toUpperCase() : undefined;
}

/** The profile fields the companion needs, clipped so the redirect token stays around 1 kB. */
function profile(event) {
  const user = event.user || {};
  return compact({
    email: clip(user.email, 254),
    email_verified: typeof user.email_verified === 'boolean' ? user.email_verified : undefined,
    name: clip(user.name),
    nickname: clip(user.nickname),
    given_name: clip(user.given_name),
    family_name: clip(user.family_name),
    username: clip(user.username),
    connection: clip(event.connection && event.connection.name),
  });
}

// ---------------------------------------------------------------- redirect flow

/** Suspends the login and sends the browser to the companion, which answers at /continue. */
function sendToCompanion(event, api, secrets, base) {
  const user = compact({
    ...profile(event),
    strategy: clip(event.connection && event.connection.strategy),
    usage_location: usageLocation(event),
  });
  // Auth0 adds iss (tenant), sub (user_id), iat, exp and the client IP (customize/actions/redirect-with-actions.mdx).
  const token = api.redirect.encodeToken({
    secret: secrets.COMPANION_SECRET,
    expiresInSeconds: REDIRECT_TOKEN_LIFETIME_S,
    payload: { user },
  });
  api.redirect.sendUserTo(`${base}/o365/start`, { query: { session_token: token } });
}

/** Validates the companion's result token: signature, exp and state (by Auth0), then sub and iss. */
function readResultToken(event, api, secrets) {
  let payload;
  try {
    payload = api.redirect.validateToken({ secret: secrets.COMPANION_SECRET, tokenParameterName: 'session_token' });
  } catch (err) {
    log('result token rejected', err);
    api.access.deny('Your Office 365 sign-in could not be confirmed (the link was invalid or has expired). Please sign in again.');
    return null;
  }
  if (!payload || payload.sub !== event.user.user_id) {
    api.access.deny('Your Office 365 sign-in could not be confirmed (the answer was for another account). Please sign in again.');
    return null;
  }
  if (normalisedUrl(payload.iss) !== companionBase(secrets.COMPANION_URL)) {
    api.access.deny('Your Office 365 sign-in could not be confirmed (the answer came from an unexpected service). Please sign in again.');
    return null;
  }
  return payload;
}

// ---------------------------------------------------------------- inline flow (no redirect possible)

function inlineBudgetMs(secrets) {
  const value = Number.parseInt(secrets.INLINE_BUDGET_MS, 10);
  const [min, max] = INLINE_BUDGET_RANGE_MS;
  return Number.isFinite(value) && value >= min && value <= max ? value : DEFAULT_INLINE_BUDGET_MS;
}

/** Provisions synchronously (refresh-token, prompt=none flows): ask, poll while pending, settle. */
async function provisionInline(event, api, ctx) {
  ctx.deadline = Date.now() + inlineBudgetMs(ctx.secrets);
  const body = { user_id: event.user.user_id, ...profile(event), usage_location: usageLocation(event) };
  const first = await callCompanion(ctx, 'POST', `${ctx.base}/v1/o365/provision`, compact(body));
  const answer = await pollWhilePending(ctx, first);
  settleInline(api, ctx.secrets, answer);
}

async function pollWhilePending(ctx, answer) {
  let current = answer;
  let statusUrl = null;
  for (let attempt = 0; current.kind === 'pending'; attempt += 1) {
    statusUrl = current.statusUrl ? sameOriginUrl(ctx.base, current.statusUrl) : statusUrl;
    if (!statusUrl) return { kind: 'unexpected' };
    const wait = current.retryAfterMs != null ? current.retryAfterMs : BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    if (Date.now() + wait + MIN_CALL_MS > ctx.deadline) return { kind: 'timeout' };
    await new Promise((resolve) => setTimeout(resolve, wait));
    current = await callCompanion(ctx, 'GET', statusUrl);
  }
  return current;
}

/** Resolves a status URL and refuses any other origin, so the bearer token never leaves the companion. */
function sameOriginUrl(base, value) {
  try {
    const url = new URL(value, `${base}/`);
    return url.origin === new URL(base).origin ? url.href : null;
  } catch (err) {
    return null;
  }
}

function settleInline(api, secrets, answer) {
  switch (answer.kind) {
    case 'ready': return acceptReady(api, secrets, answer);
    case 'failed': return api.access.deny(failureMessage(answer));
    case 'pending':
    case 'timeout': return api.access.deny(PENDING_MESSAGE);
    case 'rejected': return api.access.deny(`Office 365 sign-in is misconfigured: the account service refused the Action's credentials. An administrator must check the secret COMPANION_SECRET of the "${ACTION_NAME}" Action.`);
    case 'invalid': return api.access.deny(withReference(`Your Office 365 account could not be set up: ${cleanText(answer.message, 300).replace(/\.$/, '') || 'the account service refused the request'}.`, answer.reference));
    case 'busy': return api.access.deny(withReference('The Office 365 account service is busy. Please try again in a minute.', answer.reference));
    case 'unavailable': return api.access.deny(withReference(UNAVAILABLE_MESSAGE, answer.reference));
    default: return api.access.deny(UNEXPECTED_MESSAGE);
  }
}

/** One HTTP call to the companion under an AbortController timeout; returns a classified answer. */
async function callCompanion(ctx, method, url, body) {
  const remaining = ctx.deadline - Date.now();
  if (remaining < MIN_CALL_MS) return { kind: 'timeout' };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.min(remaining, MAX_CALL_MS));
  try {
    const headers = { authorization: `Bearer ${companionJwt(ctx)}`, accept: 'application/json' };
    if (body) headers['content-type'] = 'application/json';
    const res = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined, signal: controller.signal });
    const json = parseJson(await res.text());
    return classify(res.status, json, res.headers.get('retry-after'));
  } catch (err) {
    if (controller.signal.aborted) return { kind: 'timeout' };
    log('companion unreachable', err);
    return { kind: 'unavailable' };
  } finally {
    clearTimeout(timer);
  }
}

function parseJson(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : {};
  } catch (err) {
    return {};
  }
}

function retryAfterMs(header) {
  const seconds = Number(header);
  return header && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : null;
}

/** Maps the companion's documented answers (200 ready, 202 pending, 4xx/5xx error body) to a kind. */
function classify(status, json, retryAfter) {
  if ((status === 200 || status === 202) && json.status === 'pending') {
    return { kind: 'pending', statusUrl: typeof json.status_url === 'string' ? json.status_url : null, retryAfterMs: retryAfterMs(retryAfter) };
  }
  if (status === 200 && json.status === 'ready') return { kind: 'ready', ...json };
  if (status === 200 && json.status === 'failed') return { kind: 'failed', reason: json.reason, reference: json.reference };
  const error = json.error && typeof json.error === 'object' ? json.error : {};
  if (status === 401 || status === 403) return { kind: 'rejected' };
  if (status === 429) return { kind: 'busy', reference: error.reference };
  // 409/422: the request was understood but cannot succeed; the message is written for the person.
  if (status === 409 || status === 422) return { kind: 'failed', reason: error.message, reference: error.reference };
  if (status >= 400 && status < 500) return { kind: 'invalid', message: error.message, reference: error.reference };
  if (status >= 500) return { kind: 'unavailable', reference: error.reference };
  return { kind: 'unexpected' };
}

// ---------------------------------------------------------------- HS256 for the inline calls

function base64url(text) {
  return Buffer.from(text).toString('base64url');
}

/** A 60-second HS256 JWT the companion verifies (python-jose, algorithm pinned, iss/aud/sub/exp checked). */
function companionJwt(ctx) {
  const iat = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: 'auth0-action', aud: 'entra-companion', sub: ctx.userId, iat, exp: iat + 60 }));
  const signature = crypto.createHmac('sha256', ctx.secret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

/** console.log keeps 256 characters in Auth0; never log tokens or secrets. */
function log(what, err) {
  console.log(`[${ACTION_NAME}] ${what}: ${err && err.message ? err.message : String(err)}`.slice(0, 256));
}
