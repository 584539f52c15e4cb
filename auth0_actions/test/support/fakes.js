/**
 * Hand-built Auth0 `event`/`api` objects (shapes from shared/facts/actions.md), a fetch counter and a
 * local node:http companion for the Action tests. Loaded by `node --test` too, where it defines no test.
 */
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');

const O365_CLIENT_ID = 'o365-client-id';
const SECRET = 'test-companion-secret-0123456789abcdef';
const DOMAIN = 'sandbox.eu.auth0.com';

/** A post-login event for a Google user logging in to the Office 365 client. */
function makeEvent({ user = {}, secrets = {}, clientId = O365_CLIENT_ID, connection = 'google-oauth2', strategy, country = 'GB', companionUrl = 'https://companion.example.com' } = {}) {
  return {
    user: {
      user_id: 'google-oauth2|1001',
      email: 'ann.smith@example.org',
      email_verified: true,
      name: 'Ann Smith',
      given_name: 'Ann',
      family_name: 'Smith',
      nickname: 'ann',
      app_metadata: {},
      user_metadata: {},
      identities: [{ provider: connection, user_id: '1001', connection, isSocial: true }],
      ...user,
    },
    client: { client_id: clientId, name: 'Office 365', metadata: {} },
    connection: { id: 'con_1', name: connection, strategy: strategy || connection, metadata: {} },
    request: { ip: '203.0.113.7', hostname: DOMAIN, method: 'GET', query: {}, body: {}, geoip: { countryCode: country }, language: 'en', user_agent: 'test' },
    transaction: { id: 'txn_1', protocol: 'wsfed', redirect_uri: 'https://login.microsoftonline.com/login.srf', state: 'abc', locale: 'en' },
    secrets: { OFFICE365_CLIENT_ID: O365_CLIENT_ID, COMPANION_URL: companionUrl, COMPANION_SECRET: SECRET, ...secrets },
    stats: { logins_count: 1 },
    tenant: { id: 'sandbox' },
    authorization: { roles: [] },
  };
}

/** An api that records every call as [path, ...args]; validateToken/encodeToken behave as given. */
function makeApi({ canRedirect = true, validateToken = () => { throw new Error('no token'); }, encodeToken = () => 'encoded.token.value' } = {}) {
  const calls = [];
  const record = (name, fn) => (...args) => {
    calls.push([name, ...args]);
    return fn ? fn(...args) : api;
  };
  const cacheStore = new Map();
  const api = {
    access: { deny: record('access.deny') },
    user: { setAppMetadata: record('user.setAppMetadata'), setUserMetadata: record('user.setUserMetadata') },
    idToken: { setCustomClaim: record('idToken.setCustomClaim') },
    accessToken: { setCustomClaim: record('accessToken.setCustomClaim') },
    samlResponse: {},
    redirect: {
      canRedirect: record('redirect.canRedirect', () => canRedirect),
      encodeToken: record('redirect.encodeToken', encodeToken),
      sendUserTo: record('redirect.sendUserTo'),
      validateToken: record('redirect.validateToken', validateToken),
    },
    cache: {
      get: record('cache.get', (key) => cacheStore.get(key)),
      set: record('cache.set', (key, value) => { cacheStore.set(key, { value }); return { type: 'success' }; }),
      delete: record('cache.delete', (key) => { cacheStore.delete(key); return { type: 'success' }; }),
    },
  };
  for (const name of ['setAttribute', 'setNameIdentifierProbes', 'setNameIdentifierFormat', 'setCreateUpnClaim', 'setMapIdentities', 'setPassthroughClaimsWithNoMapping', 'setIssuer', 'setAudience', 'setLifetimeInSeconds']) {
    api.samlResponse[name] = record(`samlResponse.${name}`);
  }
  return { api, calls, named: (name) => calls.filter((call) => call[0] === name) };
}

/** The SAML attributes and NameID settings an api recorded, as one object. */
function samlOf(calls) {
  const attributes = {};
  const out = { attributes };
  for (const [name, ...args] of calls) {
    if (name === 'samlResponse.setAttribute') attributes[args[0]] = args[1];
    else if (name.startsWith('samlResponse.set')) out[name.slice('samlResponse.set'.length)] = args[0];
  }
  return out;
}

function denials(calls) {
  return calls.filter((call) => call[0] === 'access.deny').map((call) => call[1]);
}

/** Counts global fetch calls until restore(). */
function countFetches() {
  const original = globalThis.fetch;
  const counter = { count: 0, restore: () => { globalThis.fetch = original; } };
  globalThis.fetch = (...args) => {
    counter.count += 1;
    return original(...args);
  };
  return counter;
}

/** A local companion: `route(req, body, send)` answers; every request is kept in `requests`. */
async function startCompanion(route) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : null;
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      const send = (status, json, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      };
      route(req, body, send, res);
    });
  });
  server.on('connection', (socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const close = () => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(resolve);
  });
  return { base, requests, close };
}

/** Verifies an HS256 JWT independently of the code under test; returns its claims or throws. */
function verifyJwt(token, secret) {
  const [header, claims, signature] = token.split('.');
  const expected = crypto.createHmac('sha256', secret).update(`${header}.${claims}`).digest('base64url');
  if (signature !== expected) throw new Error('bad signature');
  const head = JSON.parse(Buffer.from(header, 'base64url').toString());
  if (head.alg !== 'HS256') throw new Error('bad alg');
  return JSON.parse(Buffer.from(claims, 'base64url').toString());
}

module.exports = { O365_CLIENT_ID, SECRET, DOMAIN, makeEvent, makeApi, samlOf, denials, countFetches, startCompanion, verifyJwt };
