/**
 * `api` objects shaped like Auth0's (actions/reference/post-login/post-login-api-object.mdx): every call
 * is recorded so the harness can report what the Action asked Auth0 to do.
 */
'use strict';

const crypto = require('node:crypto');
const { TokenError, signHs256, verifyHs256 } = require('./jwt');

const DEFAULT_TOKEN_LIFETIME_S = 900;
// SAML/WS-Fed limits for changes made from Actions (customize/actions/limitations.mdx).
const SAML_MAX_ATTRIBUTES = 100;
const SAML_MAX_NAME_BYTES = 1024;
const SAML_MAX_VALUE_BYTES = 2048;
// api.cache limits (limitations.mdx): 20 entries, key <= 64 B, value <= 4 kB, default 15 min, max 24 h.
const CACHE_MAX_ENTRIES = 20;
const CACHE_MAX_KEY_BYTES = 64;
const CACHE_MAX_VALUE_BYTES = 4096;
const CACHE_DEFAULT_TTL_MS = 15 * 60 * 1000;
const CACHE_MAX_TTL_MS = 24 * 60 * 60 * 1000;

const SAML_SETTERS = {
  setIssuer: 'issuer',
  setAudience: 'audience',
  setRecipient: 'recipient',
  setDestination: 'destination',
  setNameIdentifierFormat: 'nameIdentifierFormat',
  setNameIdentifierProbes: 'nameIdentifierProbes',
  setCreateUpnClaim: 'createUpnClaim',
  setPassthroughClaimsWithNoMapping: 'passthroughClaimsWithNoMapping',
  setMapUnknownClaimsAsIs: 'mapUnknownClaimsAsIs',
  setMapIdentities: 'mapIdentities',
  setLifetimeInSeconds: 'lifetimeInSeconds',
  setSignResponse: 'signResponse',
  setRelayState: 'relayState',
  setTypedAttributes: 'typedAttributes',
  setIncludeAttributeNameFormat: 'includeAttributeNameFormat',
  setAuthnContextClassRef: 'authnContextClassRef',
  setSignatureAlgorithm: 'signatureAlgorithm',
  setDigestAlgorithm: 'digestAlgorithm',
};

/** Everything the Action asked for, across the execution and the continuation. */
function createRecord() {
  return {
    denied: false,
    denyReason: null,
    saml: { attributes: {} },
    appMetadata: {},
    userMetadata: {},
    idTokenClaims: {},
    accessTokenClaims: {},
    multifactor: null,
    redirect: null,
    violations: [],
    logs: [],
  };
}

/** An in-memory api.cache with Auth0's limits; the error codes are the sandbox's own. */
function createCache(now = Date.now) {
  const entries = new Map();
  const fail = (code) => ({ type: 'error', code });
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry || entry.expires_at <= now()) return undefined;
      return { value: entry.value, expires_at: entry.expires_at };
    },
    set(key, value, options = {}) {
      if (typeof value !== 'string') return fail('invalid_value');
      if (Buffer.byteLength(String(key)) > CACHE_MAX_KEY_BYTES) return fail('key_too_long');
      if (Buffer.byteLength(value) > CACHE_MAX_VALUE_BYTES) return fail('value_too_long');
      if (!entries.has(key) && entries.size >= CACHE_MAX_ENTRIES) return fail('too_many_entries');
      const ttl = Math.min(options.ttl || CACHE_DEFAULT_TTL_MS, CACHE_MAX_TTL_MS);
      entries.set(key, { value, expires_at: options.expires_at || now() + ttl });
      return { type: 'success' };
    },
    delete(key) {
      entries.delete(key);
      return { type: 'success' };
    },
  };
}

function samlApi(record, api) {
  const saml = record.saml;
  const calls = {
    setAttribute(name, value) {
      if (value === null) {
        delete saml.attributes[name];
        return api;
      }
      if (Buffer.byteLength(String(name)) > SAML_MAX_NAME_BYTES) record.violations.push(`SAML attribute name over 1 kB: ${String(name).slice(0, 60)}`);
      if (Buffer.byteLength(String(value)) > SAML_MAX_VALUE_BYTES) record.violations.push(`SAML attribute value over 2 kB: ${name}`);
      saml.attributes[name] = value;
      if (Object.keys(saml.attributes).length > SAML_MAX_ATTRIBUTES) record.violations.push('more than 100 SAML attributes');
      return api;
    },
  };
  for (const [method, field] of Object.entries(SAML_SETTERS)) {
    calls[method] = (value) => {
      saml[field] = Array.isArray(value) ? [...value] : value;
      return api;
    };
  }
  return calls;
}

/** api.redirect: HS256 tokens with Auth0's claims, a recorded redirect, and validation on resume. */
function redirectApi(record, ctx, api) {
  return {
    canRedirect: () => ctx.canRedirect,
    encodeToken({ secret, expiresInSeconds = DEFAULT_TOKEN_LIFETIME_S, payload = {} } = {}) {
      const iat = Math.floor(Date.now() / 1000);
      // Auth0 adds iss (tenant domain), sub (user id), iat, exp and the client IP; payload claims sit beside them.
      return signHs256({ ...payload, iss: ctx.domain, sub: ctx.event.user.user_id, iat, exp: iat + expiresInSeconds, ip: ctx.event.request.ip }, secret);
    },
    sendUserTo(url, { query = {} } = {}) {
      if (!ctx.canRedirect) throw new Error('api.redirect.sendUserTo() was called although canRedirect() is false for this flow');
      const target = new URL(url);
      for (const [name, value] of Object.entries(query)) target.searchParams.set(name, String(value));
      const state = crypto.randomBytes(24).toString('base64url');
      target.searchParams.set('state', state); // Auth0 appends its own opaque state
      record.redirect = { url: target.href, state };
      return api;
    },
    validateToken({ secret, tokenParameterName = 'session_token' } = {}) {
      const request = ctx.event.request || {};
      const token = (request.query || {})[tokenParameterName] || (request.body || {})[tokenParameterName];
      const claims = verifyHs256(token, secret);
      if (!ctx.resumedState || claims.state !== ctx.resumedState) {
        throw new TokenError('the token state claim does not match the resumed transaction');
      }
      return claims;
    },
  };
}

/**
 * A post-login api bound to `record`. ctx: {event, domain, canRedirect, cache, resumedState?}.
 */
function createPostLoginApi(record, ctx) {
  const api = {};
  api.access = {
    deny(reason) {
      if (!record.denied) Object.assign(record, { denied: true, denyReason: String(reason) });
      return api;
    },
  };
  api.user = {
    setAppMetadata(key, value) { record.appMetadata[key] = value; return api; },
    setUserMetadata(key, value) { record.userMetadata[key] = value; return api; },
  };
  api.idToken = { setCustomClaim(name, value) { record.idTokenClaims[name] = value; return api; } };
  api.accessToken = {
    setCustomClaim(name, value) { record.accessTokenClaims[name] = value; return api; },
    addScope() { return api; },
    removeScope() { return api; },
  };
  api.samlResponse = samlApi(record, api);
  api.multifactor = { enable(provider, options) { record.multifactor = { provider, options }; return api; } };
  api.cache = ctx.cache;
  api.redirect = redirectApi(record, ctx, api);
  return api;
}

/** The post-user-registration api: only api.cache (that trigger has no api.access). */
function createRegistrationApi(ctx) {
  return { cache: ctx.cache };
}

module.exports = { createRecord, createCache, createPostLoginApi, createRegistrationApi };
