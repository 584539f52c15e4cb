/**
 * Entra profile claims: Auth0 post-login Action (trigger post-login v3, runtime node22, no npm modules).
 *
 * The Entra Companion keeps each managed user's Microsoft Entra ID profile in app_metadata (by default under
 * `entra`: department, jobTitle, officeLocation, employeeId, manager, businessPhones, ...). This Action copies
 * the attributes an administrator lists into namespaced ID-token claims, and optionally access-token claims,
 * so applications get them without calling any API.
 *
 * Secrets (all optional): CLAIMS, CLAIM_NAMESPACE, ACCESS_TOKEN_CLAIMS, PROFILE_NAMESPACE. See README.md.
 * It never denies a login: claims only add information, so a problem is logged and the login goes on.
 */
'use strict';

const ACTION_NAME = 'entra-profile-claims';
const DEFAULT_PROFILE_KEY = 'entra';
const DEFAULT_NAMESPACE = 'https://entra.companion/';
// Auth0 caps all custom claims of a token at 100 kB (secure/tokens/json-web-tokens/create-custom-claims.mdx);
// one attribute is kept far below that so a runaway value cannot crowd out the rest or bloat every token.
const MAX_CLAIM_BYTES = 2048;
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// "Auth0 domains cannot be used as namespace identifiers" (create-custom-claims.mdx, Namespaced guidelines).
const AUTH0_DOMAINS = ['auth0.com', 'webtask.io', 'webtask.run'];

/** Post-login entry point: add the configured Entra attributes as claims. */
exports.onExecutePostLogin = async (event, api) => {
  try {
    addClaims(event, api);
  } catch (err) {
    // Never let an error escape (Auth0 would fail the login with a generic message, limitations.mdx).
    log('unexpected error, no claims added', err);
  }
};

function addClaims(event, api) {
  const secrets = event.secrets || {};
  const names = attributeNames(secrets.CLAIMS);
  if (!names.length) return;
  const namespace = claimNamespace(secrets.CLAIM_NAMESPACE);
  if (!namespace) {
    log('CLAIM_NAMESPACE must be an http(s) URL outside Auth0\'s own domains; no claims added');
    return;
  }
  const profile = entraProfile(event.user, secrets.PROFILE_NAMESPACE);
  if (!profile) return;
  const toAccessToken = String(secrets.ACCESS_TOKEN_CLAIMS || '').trim().toLowerCase() === 'true';
  for (const name of names) {
    const value = claimValue(profile, name);
    if (value === undefined) continue;
    api.idToken.setCustomClaim(namespace + name, value);
    if (toAccessToken) api.accessToken.setCustomClaim(namespace + name, value);
  }
}

/** The attribute names of the CLAIMS secret; malformed names are skipped and logged. */
function attributeNames(value) {
  const names = String(value || '').split(',').map((item) => item.trim()).filter(Boolean);
  const bad = names.filter((name) => !ATTRIBUTE_NAME.test(name));
  if (bad.length) log(`ignoring malformed attribute name(s) in CLAIMS: ${bad.join(', ')}`);
  return [...new Set(names.filter((name) => ATTRIBUTE_NAME.test(name)))];
}

/**
 * The claim prefix, ending in "/". Auth0 allows non-namespaced custom claims since 28 July 2022 but drops any
 * that collide with OIDC or Auth0 claim names — `object_id` and `groups` among them — and access tokens for an
 * Auth0 API audience may not carry them at all (create-custom-claims.mdx, General restrictions;
 * troubleshoot/product-lifecycle/past-migrations/custom-claims-migration.mdx). So every claim is namespaced.
 */
function claimNamespace(value) {
  const text = String(value || '').trim() || DEFAULT_NAMESPACE;
  let url;
  try {
    url = new URL(text);
  } catch (err) {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const host = url.hostname.toLowerCase();
  if (AUTH0_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`))) return null;
  return text.endsWith('/') ? text : `${text}/`;
}

/** app_metadata[PROFILE_NAMESPACE] when it is an object; anything else is logged and ignored. */
function entraProfile(user, key) {
  const metadata = (user && user.app_metadata) || {};
  const profile = metadata[String(key || '').trim() || DEFAULT_PROFILE_KEY];
  if (profile === undefined || profile === null) return null; // not (yet) synchronised from Entra
  if (typeof profile !== 'object' || Array.isArray(profile)) {
    log('the Entra profile in app_metadata is not an object; no claims added');
    return null;
  }
  return profile;
}

/** The attribute's value as a claim, or undefined when it is missing or too large (arrays stay arrays). */
function claimValue(profile, name) {
  if (!Object.prototype.hasOwnProperty.call(profile, name)) return undefined;
  const value = profile[name];
  if (value === null || value === undefined || value === '') return undefined; // unset in Entra
  const size = Buffer.byteLength(JSON.stringify(value) || '');
  if (size > MAX_CLAIM_BYTES) {
    // The attribute name and size only: the value is personal data and must not reach the logs.
    log(`skipping attribute ${name}: ${size} bytes is over the ${MAX_CLAIM_BYTES}-byte limit per claim`);
    return undefined;
  }
  return value;
}

/** console.log keeps 256 characters in Auth0; never log attribute values or secrets. */
function log(what, err) {
  const detail = err ? `: ${err && err.message ? err.message : String(err)}` : '';
  console.log(`[${ACTION_NAME}] ${what}${detail}`.slice(0, 256));
}
