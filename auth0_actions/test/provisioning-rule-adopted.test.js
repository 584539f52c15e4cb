'use strict';

// A user adopted by `python -m service rule-import --apply`: the Rule's keys now hold the Entra account's
// values (metadata drift is corrected to Entra), so the fast path must emit exactly what Entra holds.
const test = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const action = require('../office365-provisioning');
const { makeEvent, makeApi, samlOf, denials, countFetches } = require('./support/fakes');

const UPN = 'http://schemas.xmlsoap.org/claims/UPN';
const IMMUTABLE_ID = 'http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID';

/** An Entra account as the Rule made it: base64 of a UUID string, auth0-<uuid> UPN (here renamed by hand). */
function ruleAccount() {
  const rid = randomUUID();
  return { userPrincipalName: 'ann.renamed@partners.contoso.com', onPremisesImmutableId: Buffer.from(rid).toString('base64') };
}

/** app_metadata after rule-import: the Rule's keys set to Entra's values, other keys left as they were. */
function adoptedMetadata(account, extra = {}) {
  return { office365Provisioned: true, office365UPN: account.userPrincipalName, office365ImmutableId: account.onPremisesImmutableId, ...extra };
}

async function login(appMetadata) {
  const fetches = countFetches();
  const { api, calls, named } = makeApi();
  try {
    await action.onExecutePostLogin(makeEvent({ user: { app_metadata: appMetadata } }), api);
  } finally {
    fetches.restore();
  }
  return { calls, named, fetches: fetches.count };
}

test('an adopted Rule user signs in with claims equal to its Entra account, without a call', async () => {
  const account = ruleAccount();
  assert.equal(account.onPremisesImmutableId.length, 48);
  const { calls, named, fetches } = await login(adoptedMetadata(account));
  const saml = samlOf(calls);
  assert.deepEqual(saml.attributes, { [UPN]: account.userPrincipalName, [IMMUTABLE_ID]: account.onPremisesImmutableId });
  assert.deepEqual(saml.NameIdentifierProbes, [IMMUTABLE_ID]);
  assert.equal(fetches, 0);
  assert.deepEqual(denials(calls), []);
  assert.equal(named('redirect.sendUserTo').length + named('user.setAppMetadata').length, 0);
});

test("lifecycle sync's own metadata beside the Rule's keys does not change the claims", async () => {
  const account = ruleAccount();
  const { calls } = await login(adoptedMetadata(account, { entra: { object_id: 'oid-1', managed: true, department: 'Sales' } }));
  assert.deepEqual(samlOf(calls).attributes, { [UPN]: account.userPrincipalName, [IMMUTABLE_ID]: account.onPremisesImmutableId });
});
