/**
 * `event` objects shaped like Auth0's (actions/reference/post-login/post-login-event-object.mdx and the
 * post-user-registration event object): the fields our Actions use plus the common ones.
 */
'use strict';

const crypto = require('node:crypto');

const DEFAULT_IP = '203.0.113.10';
const DEFAULT_USER_AGENT = 'Mozilla/5.0 (entra-companion sandbox)';
const DATABASE_CONNECTION = 'Username-Password-Authentication';
const OFFICE365_REPLY_URL = 'https://login.microsoftonline.com/login.srf';

function randomId(prefix, bytes = 12) {
  return `${prefix}${crypto.randomBytes(bytes).toString('hex')}`;
}

/** Connection name and strategy: from the options, else the user's first identity, else the database. */
function resolveConnection(options, user) {
  const identity = (user.identities || [])[0] || {};
  const name = options.connection || identity.connection || DATABASE_CONNECTION;
  const strategy = options.strategy || identity.provider || (name === DATABASE_CONNECTION ? 'auth0' : name);
  return { id: `con_${crypto.createHash('sha256').update(name).digest('hex').slice(0, 16)}`, name, strategy, metadata: {} };
}

/** A deep copy of the user with the fields Auth0 always fills (app_metadata is never undefined). */
function normaliseUser(user, connection) {
  const copy = JSON.parse(JSON.stringify(user || {}));
  if (!copy.user_id) throw new Error('the user needs a user_id');
  copy.app_metadata = copy.app_metadata || {};
  copy.user_metadata = copy.user_metadata || {};
  copy.created_at = copy.created_at || new Date().toISOString();
  if (!Array.isArray(copy.identities)) {
    const bar = copy.user_id.indexOf('|');
    copy.identities = [{
      provider: connection.strategy,
      user_id: bar >= 0 ? copy.user_id.slice(bar + 1) : copy.user_id,
      connection: connection.name,
      // Social connections are the ones whose strategy equals their name (post-login event object).
      isSocial: connection.strategy === connection.name && connection.strategy !== 'auth0',
    }];
  }
  return copy;
}

/** A request as Auth0 describes it; a new one is built after each redirect resume. */
function buildRequest(options, query = {}) {
  const geoip = options.country ? { countryCode: options.country.toUpperCase(), countryName: options.country.toUpperCase() } : {};
  return {
    ip: options.ip || DEFAULT_IP,
    hostname: options.domain,
    method: 'GET',
    query: { ...query },
    body: {},
    geoip,
    language: 'en',
    user_agent: DEFAULT_USER_AGENT,
  };
}

function stringSecrets(secrets) {
  return Object.fromEntries(Object.entries(secrets || {}).map(([name, value]) => [name, String(value)]));
}

/** The post-login event for a login to `options.clientId` over `options.protocol` (default wsfed). */
function buildPostLoginEvent(options) {
  const connection = resolveConnection(options, options.user || {});
  const protocol = options.protocol || 'wsfed';
  return {
    user: normaliseUser(options.user, connection),
    client: { client_id: options.clientId, name: options.clientName || 'Office 365', metadata: {} },
    connection,
    request: buildRequest(options),
    transaction: {
      id: randomId('txn_'),
      protocol,
      redirect_uri: protocol === 'wsfed' ? OFFICE365_REPLY_URL : undefined,
      requested_scopes: [],
      state: randomId('', 16),
      locale: 'en',
    },
    secrets: stringSecrets(options.secrets),
    stats: { logins_count: options.loginsCount || 1 },
    tenant: { id: String(options.domain).split('.')[0] },
    authorization: { roles: [] },
    session: { id: randomId('ses_') },
  };
}

/** The post-user-registration event (no client, no authorization: registration is not a login). */
function buildRegistrationEvent(options) {
  const connection = resolveConnection(options, options.user || {});
  return {
    user: normaliseUser(options.user, connection),
    connection,
    request: buildRequest(options),
    transaction: { locale: 'en', protocol: options.protocol || 'oidc-basic-profile' },
    secrets: stringSecrets(options.secrets),
    tenant: { id: String(options.domain).split('.')[0] },
  };
}

module.exports = { buildPostLoginEvent, buildRegistrationEvent, buildRequest, randomId };
