'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const action = require('../office365-provisioning');
const { makeEvent, makeApi, samlOf, denials, countFetches } = require('./support/fakes');

const UPN = 'http://schemas.xmlsoap.org/claims/UPN';
const IMMUTABLE_ID = 'http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID';

async function run(event) {
  const fetches = countFetches();
  const { api, calls, named } = makeApi();
  try {
    await action.onExecutePostLogin(event, api);
  } finally {
    fetches.restore();
  }
  return { calls, named, fetches: fetches.count };
}

test('entra_companion metadata: claims with NameID = ImmutableID and no network call', async () => {
  const entra = { upn: 'ann.smith@partners.contoso.com', immutable_id: 'q83vEjRWeJCrze8SNFZ4kA==', object_id: 'x' };
  const { calls, named, fetches } = await run(makeEvent({ user: { app_metadata: { entra_companion: entra } } }));
  assert.equal(fetches, 0);
  assert.deepEqual(samlOf(calls), {
    attributes: { [UPN]: entra.upn, [IMMUTABLE_ID]: entra.immutable_id },
    CreateUpnClaim: false,
    MapIdentities: false,
    NameIdentifierProbes: [IMMUTABLE_ID],
    NameIdentifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  });
  assert.deepEqual(denials(calls), []);
  assert.equal(named('redirect.sendUserTo').length + named('user.setAppMetadata').length, 0);
});

test("the old Rule's office365UPN / office365ImmutableId still work", async () => {
  const meta = { office365Provisioned: true, office365UPN: 'bob@partners.contoso.com', office365ImmutableId: 'legacyBase64==' };
  const { calls, fetches } = await run(makeEvent({ user: { app_metadata: meta } }));
  assert.equal(fetches, 0);
  assert.deepEqual(samlOf(calls).attributes, { [UPN]: 'bob@partners.contoso.com', [IMMUTABLE_ID]: 'legacyBase64==' });
});

test('claim URIs and the NameID format follow the override secrets', async () => {
  const secrets = { UPN_CLAIM_URI: 'urn:upn', IMMUTABLEID_CLAIM_URI: 'urn:iid', NAMEID_FORMAT: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' };
  const entra = { upn: 'ann@partners.contoso.com', immutable_id: 'abc==' };
  const { calls } = await run(makeEvent({ secrets, user: { app_metadata: { entra_companion: entra } } }));
  const saml = samlOf(calls);
  assert.deepEqual(saml.attributes, { 'urn:upn': entra.upn, 'urn:iid': 'abc==' });
  assert.deepEqual(saml.NameIdentifierProbes, ['urn:iid']);
  assert.equal(saml.NameIdentifierFormat, secrets.NAMEID_FORMAT);
});

test('provisioned users still sign in while the companion secrets are missing', async () => {
  const entra = { upn: 'ann@partners.contoso.com', immutable_id: 'abc==' };
  const { calls } = await run(makeEvent({ secrets: { COMPANION_SECRET: '' }, user: { app_metadata: { entra_companion: entra } } }));
  assert.deepEqual(denials(calls), []);
  assert.equal(samlOf(calls).attributes[UPN], entra.upn);
});

test('incomplete metadata is not trusted: the user goes to the companion', async () => {
  const { calls, named } = await run(makeEvent({ user: { app_metadata: { entra_companion: { upn: 'not-an-upn', immutable_id: 'abc==' } } } }));
  assert.equal(named('redirect.sendUserTo').length, 1);
  assert.deepEqual(samlOf(calls).attributes, {});
});
