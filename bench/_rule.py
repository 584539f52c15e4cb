"""Auth0's Office 365 custom-provisioning Rule, ported step for step to Microsoft Graph v1.0.

Source: auth0/docs `articles/integrations/office-365-custom-provisioning.md` (facts/peers.md §5.1):
getAzureADToken → createAzureADUser → getAvailableLicenses → assignOffice365License →
saveUserMetadata → waitCreateDelay (15 s) → connectWithUser. The only changes are the ones
the retirement of Azure AD Graph forces (v2.0 token endpoint with a `.default` scope, Graph v1.0
paths and property names). Kept as the Rule had it: a fresh token per login, a new connection
per call (request-promise used Node's default agent, without keep-alive), no retry anywhere (any
error fails the login through `.catch(callback)`), password = ImmutableID = base64 of a random
UUID string, and a fixed sleep instead of a readiness check.
"""
import base64
import time
import uuid

import requests

AAD_USAGE_LOCATION = "US"  # the Rule's constant
AAD_USER_CREATE_DELAY_S = 15.0  # AAD_USER_CREATE_DELAY = 15000


class RuleFailed(Exception):
    """A call of the Rule's promise chain failed; the login ends with an error."""

    def __init__(self, step, status, code):
        super().__init__(f"{step}: no answer ({code})" if status is None else f"{step}: HTTP {status} {code}")
        self.step, self.status, self.code = step, status, code


class Rule:
    """The Rule's algorithm against one Graph/Entra endpoint (the emulator in the bench)."""

    def __init__(self, *, graph_url, tenant, client_id, client_secret, domain, sku_part_number, ca_bundle,
                 delay_s=AAD_USER_CREATE_DELAY_S, sleep=time.sleep):
        self.graph_url, self.tenant = graph_url, tenant
        self.client_id, self.client_secret = client_id, client_secret
        self.domain, self.sku_part_number, self.ca_bundle = domain, sku_part_number, ca_bundle
        self.delay_s, self.sleep = delay_s, sleep

    def login(self, user):
        """Run the Rule for a new user; return (upn, immutable_id, object_id) once it would return claims."""
        rid = str(uuid.uuid4())
        immutable_id = base64.b64encode(rid.encode()).decode()  # new Buffer(uuid).toString('base64')
        upn = f"auth0-{rid}@{self.domain}"
        token = self._token()
        created = self._create(token, user, upn, immutable_id)
        skus = self._call("getAvailableLicenses", "GET", "/v1.0/subscribedSkus", token)
        self._assign(token, created["id"], skus)
        # saveUserMetadata wrote app_metadata inside Auth0's own runtime; it is not a Graph call.
        self.sleep(self.delay_s)  # waitCreateDelay
        return upn, immutable_id, created["id"]

    def _token(self):
        """getAzureADToken: client credentials, fresh on every login (the Rule cached nothing)."""
        url = f"{self.graph_url}/{self.tenant}/oauth2/v2.0/token"
        form = {"client_id": self.client_id, "client_secret": self.client_secret,
                "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"}
        return self._send("getAzureADToken", "POST", url, data=form)["access_token"]

    def _create(self, token, user, upn, immutable_id):
        """createAzureADUser: the password is the ImmutableID, as in the Rule."""
        body = {"accountEnabled": True, "displayName": user["nickname"],
                "mailNickname": user["email"].split("@")[0], "userPrincipalName": upn,
                "passwordProfile": {"password": immutable_id, "forceChangePasswordNextSignIn": False},
                "onPremisesImmutableId": immutable_id, "usageLocation": AAD_USAGE_LOCATION}
        return self._call("createAzureADUser", "POST", "/v1.0/users", token, json=body)

    def _assign(self, token, user_id, skus):
        """assignOffice365License: first SKU with the wanted skuPartNumber, no disabled plans."""
        sku_id = next((s["skuId"] for s in skus.get("value", []) if s["skuPartNumber"] == self.sku_part_number),
                      None)
        body = {"addLicenses": [{"disabledPlans": [], "skuId": sku_id}], "removeLicenses": []}
        self._call("assignOffice365License", "POST", f"/v1.0/users/{user_id}/assignLicense", token, json=body)

    def _call(self, step, method, path, token, **kwargs):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return self._send(step, method, f"{self.graph_url}{path}", headers=headers, **kwargs)

    def _send(self, step, method, url, **kwargs):
        """One call on a new connection; any non-2xx rejects the chain like request-promise did."""
        with requests.Session() as http:
            http.trust_env = False
            try:
                resp = http.request(method, url, verify=self.ca_bundle, timeout=30, **kwargs)
            except requests.RequestException as why:  # request-promise rejects on these too
                raise RuleFailed(step, None, type(why).__name__) from why
        if not 200 <= resp.status_code < 300:
            raise RuleFailed(step, resp.status_code, _error_code(resp))
        return resp.json() if resp.content else {}


def _error_code(resp):
    """Graph's error.code (or the OAuth error) of a failed answer, for counting failures by kind."""
    try:
        body = resp.json()
    except ValueError:
        return "(no JSON body)"
    error = body.get("error")
    return error.get("code", "?") if isinstance(error, dict) else str(error)
