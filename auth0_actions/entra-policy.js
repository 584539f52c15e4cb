/**
 * Entra sign-in policy: Auth0 post-login Action (trigger post-login v3, runtime node22, no npm modules).
 *
 * The Entra Companion derives a sign-in policy for each managed user from Microsoft Entra ID (group
 * membership and the like) and stores it in `app_metadata.entra_policy`:
 *   { "mfa": "required" | "none", "allowed_connections": ["..."] (optional), "groups_version": "..." }
 * This Action enforces it at every login: a connection outside `allowed_connections` is refused with a
 * sentence naming the ones to use, and `mfa: "required"` asks Auth0 for a multi-factor challenge.
 *
 * Secrets (optional): DEFAULT_POLICY (JSON, the policy of users the companion has not reached yet),
 * CONNECTION_LABELS (JSON, connection name -> the name people know it by). See README.md.
 */
'use strict';

const ACTION_NAME = 'entra-policy';
const POLICY_KEY = 'entra_policy';
const MFA_VALUES = ['required', 'none'];
// A refresh-token exchange has no user at the keyboard: Auth0's "Bypass MFA" advice is to skip MFA there
// (secure/tokens/refresh-tokens/use-refresh-tokens.mdx); the session it renews met the policy when it began.
const NO_MFA_PROTOCOLS = ['oauth2-refresh-token'];
const MAX_LISTED = 5;
// The names Auth0 gives its stock connections, as people know them.
const STOCK_LABELS = {
  'Username-Password-Authentication': 'your email address and password',
  'google-oauth2': 'Google',
  windowslive: 'a Microsoft account',
  apple: 'Apple',
  github: 'GitHub',
  linkedin: 'LinkedIn',
  facebook: 'Facebook',
};
const DAMAGED_MESSAGE = 'Your account\'s sign-in policy could not be read, so sign-in was stopped to keep your account safe. Please contact your help desk.';
const CRASH_MESSAGE = 'Your sign-in could not be checked against your organisation\'s policy. Please try again; if it keeps failing, contact your help desk.';

/** Post-login entry point: enforce the user's Entra sign-in policy. */
exports.onExecutePostLogin = async (event, api) => {
  try {
    enforce(event, api);
  } catch (err) {
    // Never let an error escape; and a policy that cannot be checked must not let the login through.
    log('unexpected error', err);
    api.access.deny(CRASH_MESSAGE);
  }
};

function enforce(event, api) {
  const secrets = event.secrets || {};
  const found = policyOf(event.user, secrets);
  if (found.error) return api.access.deny(found.error);
  const policy = found.policy;
  if (!policy) return; // no policy and no DEFAULT_POLICY: nothing to enforce
  const connection = (event.connection && event.connection.name) || '';
  if (policy.allowedConnections && !policy.allowedConnections.includes(connection)) {
    return api.access.deny(connectionMessage(policy.allowedConnections, labels(secrets.CONNECTION_LABELS)));
  }
  if (policy.mfa === 'required' && canChallenge(event)) {
    // "The actual multifactor challenge will be deferred to the end of the login flow"
    // (actions/reference/post-login/post-login-api-object.mdx, api.multifactor.enable(provider, options)).
    api.multifactor.enable('any', { allowRememberBrowser: false });
  }
}

/** `{policy}` (null when there is none), or `{error}` with the sentence to deny with. */
function policyOf(user, secrets) {
  const metadata = (user && user.app_metadata) || {};
  const stored = metadata[POLICY_KEY];
  if (stored !== undefined && stored !== null) {
    const policy = parsePolicy(stored);
    if (!policy) log(`app_metadata.${POLICY_KEY} is malformed; login denied`);
    return policy ? { policy } : { error: DAMAGED_MESSAGE };
  }
  const fallback = String(secrets.DEFAULT_POLICY || '').trim();
  if (!fallback) return { policy: null };
  let policy = null;
  try {
    policy = parsePolicy(JSON.parse(fallback));
  } catch (err) {
    policy = null;
  }
  // A broken default would silently leave new users unprotected, so it fails closed and says who must act.
  if (!policy) return { error: `Sign-in is misconfigured: an administrator must correct the secret DEFAULT_POLICY of the "${ACTION_NAME}" Action (it is not a valid policy).` };
  return { policy };
}

/** A validated policy `{mfa, allowedConnections}`, or null when any known field has a wrong value. */
function parsePolicy(raw) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  let mfa = 'none';
  if (raw.mfa !== undefined && raw.mfa !== null) {
    mfa = typeof raw.mfa === 'string' ? raw.mfa.trim().toLowerCase() : '';
    if (!MFA_VALUES.includes(mfa)) return null;
  }
  let allowedConnections = null; // absent: every connection is allowed
  if (raw.allowed_connections !== undefined && raw.allowed_connections !== null) {
    const list = raw.allowed_connections;
    if (!Array.isArray(list) || !list.every((name) => typeof name === 'string' && name.trim())) return null;
    allowedConnections = list.map((name) => name.trim());
  }
  return { mfa, allowedConnections };
}

/** False where no one can answer a challenge (refresh-token exchanges). */
function canChallenge(event) {
  const protocol = event.transaction && event.transaction.protocol;
  return !NO_MFA_PROTOCOLS.includes(protocol);
}

/** CONNECTION_LABELS as an object of strings; malformed JSON only costs the nicer names. */
function labels(value) {
  const text = String(value || '').trim();
  if (!text) return {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).filter(([, label]) => typeof label === 'string' && label.trim()));
    }
  } catch (err) {
    // fall through to the log below
  }
  log('CONNECTION_LABELS is not a JSON object of strings; connection names are shown as they are');
  return {};
}

/** "Your organisation requires you to sign in with Google or Contoso SSO." */
function connectionMessage(allowed, custom) {
  if (!allowed.length) return 'Your organisation has not allowed any way for your account to sign in here. Please contact your help desk.';
  const names = [...new Set(allowed.map((name) => custom[name] || STOCK_LABELS[name] || name))];
  const shown = names.length > MAX_LISTED ? [...names.slice(0, MAX_LISTED - 1), 'another approved option'] : names;
  const list = shown.length === 1 ? shown[0] : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
  return `Your organisation requires you to sign in with ${list}. Please sign in again and choose that option.`;
}

/** console.log keeps 256 characters in Auth0; never log metadata values or secrets. */
function log(what, err) {
  const detail = err ? `: ${err && err.message ? err.message : String(err)}` : '';
  console.log(`[${ACTION_NAME}] ${what}${detail}`.slice(0, 256));
}
