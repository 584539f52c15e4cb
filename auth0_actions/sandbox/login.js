#!/usr/bin/env node
/**
 * Sandbox login: plays an Auth0 Action over real HTTP and prints ONE JSON object on stdout.
 *
 *   node auth0_actions/sandbox/login.js --action auth0_actions/office365-provisioning.js \
 *     --user user.json --secrets secrets.json --domain sandbox.eu.auth0.com --client-id <o365 client id> \
 *     [--connection google-oauth2 --strategy google-oauth2] [--no-redirect] [--max-wait-s 120] [--fast-refresh]
 *     [--trigger post-login|post-user-registration] [--protocol wsfed] [--ip 203.0.113.10] [--country GB]
 *
 * Exit status: 0 whatever the login's outcome; 2 when the harness itself could not run (message on stderr).
 */
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { playLogin, playRegistration, HarnessError } = require('./play');

const OPTIONS = {
  action: { type: 'string' },
  user: { type: 'string' },
  secrets: { type: 'string' },
  domain: { type: 'string' },
  'client-id': { type: 'string' },
  'client-name': { type: 'string' },
  connection: { type: 'string' },
  strategy: { type: 'string' },
  protocol: { type: 'string' },
  ip: { type: 'string' },
  country: { type: 'string' },
  trigger: { type: 'string', default: 'post-login' },
  'no-redirect': { type: 'boolean', default: false },
  'max-wait-s': { type: 'string', default: '120' },
  'fast-refresh': { type: 'boolean', default: false },
};

function readJson(file, what) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HarnessError(`cannot read the ${what} file ${file}: ${err.message}`);
  }
}

function required(values, names) {
  const missing = names.filter((name) => !values[name]);
  if (missing.length) throw new HarnessError(`missing option(s): ${missing.map((name) => `--${name}`).join(', ')}`);
}

/** Turns the command line into playLogin/playRegistration options. */
function toOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (err) {
    throw new HarnessError(err.message);
  }
  if (!['post-login', 'post-user-registration'].includes(values.trigger)) {
    throw new HarnessError('--trigger must be post-login or post-user-registration');
  }
  required(values, values.trigger === 'post-login' ? ['action', 'user', 'secrets', 'domain', 'client-id'] : ['action', 'user', 'secrets', 'domain']);
  const maxWaitS = Number(values['max-wait-s']);
  if (!Number.isFinite(maxWaitS) || maxWaitS <= 0) throw new HarnessError('--max-wait-s must be a positive number');
  return {
    trigger: values.trigger,
    actionPath: values.action,
    user: readJson(values.user, 'user'),
    secrets: readJson(values.secrets, 'secrets'),
    domain: values.domain,
    clientId: values['client-id'],
    clientName: values['client-name'],
    connection: values.connection,
    strategy: values.strategy,
    protocol: values.protocol,
    ip: values.ip,
    country: values.country,
    noRedirect: values['no-redirect'],
    maxWaitS,
    fastRefresh: values['fast-refresh'],
  };
}

async function main(argv) {
  const options = toOptions(argv);
  return options.trigger === 'post-login' ? playLogin(options) : playRegistration(options);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (summary) => process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0)),
    (err) => {
      const known = err instanceof HarnessError;
      process.stderr.write(`sandbox login: ${known ? err.message : err.stack}\n`, () => process.exit(2));
    },
  );
}

module.exports = { main, toOptions };
