/**
 * Plays an Action the way Auth0 would: builds event/api, runs the handler under the trigger's 20 s limit,
 * follows a redirect in a small browser, resumes in onContinuePostLogin, and summarises what happened.
 */
'use strict';

const path = require('node:path');
const { buildPostLoginEvent, buildRegistrationEvent, buildRequest } = require('./event');
const { createRecord, createCache, createPostLoginApi, createRegistrationApi } = require('./api');
const { playBrowser } = require('./browser');

// Each execution of a trigger must finish in 20 s; a redirecting Action has separate limits before and
// after the redirect (customize/actions/limitations.mdx).
const TRIGGER_LIMIT_MS = 20000;

/** Raised when the harness itself cannot run (bad input, missing handler); the CLI exits non-zero. */
class HarnessError extends Error {}

function loadAction(actionPath) {
  const resolved = path.resolve(actionPath);
  try {
    return require(resolved);
  } catch (err) {
    throw new HarnessError(`cannot load the Action ${resolved}: ${err.message}`);
  }
}

function buildEvent(builder, options) {
  try {
    return builder(options);
  } catch (err) {
    throw new HarnessError(`cannot build the event: ${err.message}`);
  }
}

function handler(action, name) {
  if (typeof action[name] !== 'function') throw new HarnessError(`the Action does not export ${name}`);
  return action[name];
}

/** Runs one handler; returns null, or a sentence saying how it broke (threw or ran out of time). */
async function runHandler(fn, event, api, limitMs = TRIGGER_LIMIT_MS) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(`the Action did not finish within ${limitMs / 1000} s`), limitMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => fn(event, api)).then(() => null), timeout]);
  } catch (err) {
    return `the Action threw: ${err && err.message ? err.message : String(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Replaces global fetch with a counting wrapper for the Action; returns the original and a restore. */
function countActionFetches(counters) {
  const original = globalThis.fetch;
  globalThis.fetch = (...args) => {
    counters.action_requests += 1;
    return original(...args);
  };
  return { original, restore: () => { globalThis.fetch = original; } };
}

/**
 * Sends the Action's console output to stderr (stdout carries only the JSON report) and keeps each line
 * cut at 256 characters, as Auth0 keeps them (customize/actions/limitations.mdx).
 */
function captureConsole(logs) {
  const methods = ['log', 'info', 'warn', 'error', 'debug'];
  const originals = methods.map((name) => console[name]);
  for (const name of methods) {
    console[name] = (...args) => {
      const line = args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ');
      logs.push(line.slice(0, 256));
      process.stderr.write(`${line}\n`);
    };
  }
  return () => methods.forEach((name, i) => { console[name] = originals[i]; });
}

/** Counts the Action's fetches and captures its console until the returned restore() is called. */
function instrument(counters, logs) {
  const fetches = countActionFetches(counters);
  const restoreConsole = captureConsole(logs);
  return { original: fetches.original, restore: () => { fetches.restore(); restoreConsole(); } };
}

function createTimeline() {
  const started = Date.now();
  const steps = [];
  return {
    steps,
    step: (name) => steps.push({ step: name, t_ms: Date.now() - started }),
    elapsed: () => Date.now() - started,
  };
}

function summarise(record, counters, timeline, error, canDeny = true) {
  return {
    outcome: canDeny && (record.denied || error) ? 'denied' : 'allowed',
    deny_reason: record.denyReason,
    error: error || null,
    saml: record.saml,
    app_metadata: record.appMetadata,
    user_metadata: record.userMetadata,
    id_token_claims: record.idTokenClaims,
    access_token_claims: record.accessTokenClaims,
    redirected: Boolean(record.redirect),
    limit_violations: record.violations,
    logs: record.logs,
    companion_requests: counters.companion_requests,
    action_requests: counters.action_requests,
    waiting_pages: counters.waiting_pages,
    steps: timeline.steps,
    total_ms: timeline.elapsed(),
  };
}

/** The redirect leg: browser to /continue, state check, then onContinuePostLogin with a new request. */
async function resume(action, event, record, ctx) {
  ctx.timeline.step('redirect');
  const browser = await playBrowser(record.redirect.url, {
    domain: ctx.options.domain,
    maxWaitMs: (ctx.options.maxWaitS || 120) * 1000,
    fastRefresh: Boolean(ctx.options.fastRefresh),
    fetch: ctx.browserFetch,
    counters: ctx.counters,
    step: ctx.timeline.step,
  });
  if (browser.kind !== 'continue') return browser.error;
  ctx.timeline.step('continue');
  if (browser.query.state !== record.redirect.state) return 'the companion resumed the login with a state Auth0 did not issue';
  // Metadata set before a redirect is written before it (post-login api object), so the resumed user has it.
  const user = { ...event.user, app_metadata: { ...event.user.app_metadata, ...record.appMetadata } };
  const resumed = { ...event, user, request: buildRequest(ctx.options, browser.query) };
  const api = createPostLoginApi(record, { event: resumed, domain: ctx.options.domain, canRedirect: false, cache: ctx.cache, resumedState: browser.query.state });
  ctx.timeline.step('onContinuePostLogin');
  return runHandler(handler(action, 'onContinuePostLogin'), resumed, api);
}

/**
 * Plays a post-login. options: {actionPath, user, secrets, domain, clientId, clientName?, connection?,
 * strategy?, protocol?, ip?, country?, noRedirect?, maxWaitS?, fastRefresh?}.
 */
async function playLogin(options) {
  const action = loadAction(options.actionPath);
  const execute = handler(action, 'onExecutePostLogin');
  const counters = { action_requests: 0, companion_requests: 0, waiting_pages: 0 };
  const timeline = createTimeline();
  const record = createRecord();
  const cache = createCache();
  const event = buildEvent(buildPostLoginEvent, options);
  const fetches = instrument(counters, record.logs);
  try {
    const api = createPostLoginApi(record, { event, domain: options.domain, canRedirect: !options.noRedirect, cache });
    timeline.step('onExecutePostLogin');
    let error = await runHandler(execute, event, api);
    if (!error && !record.denied && record.redirect) {
      error = await resume(action, event, record, { options, counters, timeline, cache, browserFetch: fetches.original });
    }
    timeline.step('done');
    return summarise(record, counters, timeline, error);
  } finally {
    fetches.restore();
  }
}

/** Plays a post-user-registration (awaited here, although Auth0 runs it without blocking the sign-up). */
async function playRegistration(options) {
  const action = loadAction(options.actionPath);
  const execute = handler(action, 'onExecutePostUserRegistration');
  const counters = { action_requests: 0, companion_requests: 0, waiting_pages: 0 };
  const timeline = createTimeline();
  const record = createRecord();
  const event = buildEvent(buildRegistrationEvent, options);
  const fetches = instrument(counters, record.logs);
  try {
    timeline.step('onExecutePostUserRegistration');
    const error = await runHandler(execute, event, createRegistrationApi({ cache: createCache() }));
    timeline.step('done');
    // Registration cannot be refused: a failing post-user-registration Action leaves the sign-up in place.
    return summarise(record, counters, timeline, error, false);
  } finally {
    fetches.restore();
  }
}

module.exports = { playLogin, playRegistration, runHandler, HarnessError, TRIGGER_LIMIT_MS };
