"""The preflight's checks against the database, the queue, Entra ID / Graph and Auth0 (see preflight.py)."""
from urllib.parse import urlparse

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from jose import jwt
from sqlalchemy.exc import SQLAlchemyError

from service import jobs, permissions
from service.clients._http import RetryPolicy
from service.clients.auth0 import Auth0Client
from service.clients.graph import GraphClient
from service.db import Store, migrations_config
from service.errors import AuthFailed, CompanionError, NotFound, Transient
from service.licensing import free_seats
from service.preflight import FAIL, OK, SKIP, WARN, Line, public_url
from service.sync.config import ConfigFile, SyncConfig, SyncConfigError

# One quick try per call: the operator is waiting, and a retry would only delay the verdict.
QUICK = RetryPolicy(max_attempts=2, max_total_wait_s=3.0)
POST_LOGIN = "post-login"
REQUIRED_ACTIONS = ("office365-provisioning",)  # the name auth0_actions/deploy/tenant.yaml gives it
ENTRA_FIXES = {
    "AADSTS7000215": "ENTRA_CLIENT_SECRET must be the secret's Value (not its Secret ID): App registrations → "
                     "your app → Certificates & secrets",
    "AADSTS7000222": "the client secret has expired: add a new one under Certificates & secrets and update "
                     "ENTRA_CLIENT_SECRET",
    "AADSTS700016": "ENTRA_CLIENT_ID is not an application in this tenant: copy the Application (client) ID "
                    "from the app registration's Overview",
    "AADSTS90002": "ENTRA_TENANT_ID is not a tenant: copy the Directory (tenant) ID from the app registration's "
                   "Overview",
    "AADSTS700027": "the certificate is not registered on the app: upload its public part under Certificates & "
                    "secrets and check ENTRA_CERT_THUMBPRINT",
    "authority_invalid": "check ENTRA_TENANT_ID and ENTRA_AUTHORITY_HOST",
    "tls_verify_failed": "the Entra endpoint's certificate is not trusted: check CA_BUNDLE",
}
UNREACHABLE_FIX = ("the Entra token endpoint did not answer: check ENTRA_AUTHORITY_HOST and that this host may "
                   "reach it (proxy, firewall)")
AUTH0_FIXES = {
    "access_denied": "check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET (Dashboard → Applications → your "
                     "machine-to-machine app → Settings) and that the app is authorised for the Auth0 "
                     "Management API (APIs → Auth0 Management API → Machine To Machine Applications)",
    "unauthorized_client": "enable the Client Credentials grant on the machine-to-machine app (Settings → "
                           "Advanced → Grant Types)",
}


class Checks:
    """The checks that talk to something; each method returns Lines."""

    def __init__(self, settings):
        self.s = settings
        self.graph = GraphClient.from_settings(settings, retry=QUICK)
        self.auth0 = Auth0Client.from_settings(settings, retry=QUICK)
        self.config, self.config_line = _sync_config(settings)
        self.features = permissions.enabled(settings, self.config)

    def run(self):
        """Every remaining check, in order."""
        lines = [self.config_line] if self.config_line else []
        lines += [public_url(self.s.companion_public_url), self.database(), self.queue()]
        lines += self.entra() + self.auth0_lines()
        return lines

    # -- local -------------------------------------------------------------------------------------

    def database(self):
        """Reachable, and at the newest migration."""
        title = "database"
        engine = Store(self.s.database_url).engine
        try:
            with engine.connect() as conn:
                current = set(MigrationContext.configure(conn).get_current_heads())
        except SQLAlchemyError as exc:
            return Line(FAIL, title, f"unreachable ({_first_line(exc, self.s.database_url)})",
                        "check DATABASE_URL: is the server up, the database created, the user allowed?")
        finally:
            engine.dispose()
        heads = set(ScriptDirectory.from_config(migrations_config()).get_heads())
        if current == heads:
            return Line(OK, title, "reachable, at the latest migration")
        found = f"at {', '.join(sorted(current))}" if current else "empty"
        return Line(FAIL, title, f"schema {found}; the latest migration is {', '.join(sorted(heads))}",
                    "run `python -m service migrate` (the web and the worker also migrate when they start)")

    def queue(self):
        """The queue answers (Redis PING, or the SQLite file opens)."""
        url = self.s.queue_url
        try:
            if url.startswith(("redis://", "rediss://")):
                redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
                waiting = None
            else:
                waiting = jobs.make_queue(url).pending_count()
        except Exception as exc:  # any failure means "not reachable"; the class and text say why
            return Line(FAIL, "queue", f"unreachable ({_first_line(exc, url)})",
                        "check QUEUE_URL: is Redis up and reachable from here (host, port, password)?")
        return Line(OK, "queue", "reachable" + (f", {waiting} job(s) waiting" if waiting is not None else ""))

    # -- Entra ID and Graph ------------------------------------------------------------------------

    def entra(self):
        """Token, granted permissions, federated domain, licence seats."""
        try:
            token = self.graph.tokens.token()
        except CompanionError as err:
            fix = ENTRA_FIXES.get(err.code) or (UNREACHABLE_FIX if isinstance(err, Transient) else
                                                "check ENTRA_TENANT_ID, ENTRA_CLIENT_ID and the secret or certificate")
            return [Line(FAIL, "Entra token", _aadsts_sentence(err.vendor_message) or err.message, fix),
                    Line(SKIP, "Graph checks", "skipped: they need an Entra token")]
        lines = [Line(OK, "Entra token", f"obtained for app {self.s.entra_client_id}"), self.graph_roles(token)]
        return lines + [self._graph_call(self.domain, "federated domain"),
                        self._graph_call(self.licence, "licence")]

    def graph_roles(self, token):
        """The token's `roles` cover every enabled feature's Graph needs."""
        roles = jwt.get_unverified_claims(token).get("roles") or []
        missing = permissions.missing_graph(self.features, roles)
        if not missing:
            return Line(OK, "Graph permissions", ", ".join(sorted(roles)))
        names = sorted({perm for _, perm in missing})
        detail = "; ".join(f"{perm} (for {feature})" for feature, perm in missing)
        return Line(FAIL, "Graph permissions", f"missing {detail}",
                    f"App registrations → your app → API permissions → Add a permission → Microsoft Graph → "
                    f"Application permissions: {', '.join(names)}; then Grant admin consent")

    def _graph_call(self, check, title):
        try:
            return check()
        except CompanionError as err:
            return Line(FAIL, title, err.message, "fix what the message names, then run the check again")

    def domain(self):
        """O365_DOMAIN exists in the tenant, is verified and is Federated."""
        name, title = self.s.o365_domain, "federated domain"
        try:
            domain = self.graph.get_domain(name)
        except NotFound:
            return Line(FAIL, title, f"{name} is not a domain of this tenant",
                        "Entra admin center → Settings → Domain names → Add custom domain, verify it, then "
                        "federate it with Auth0 (README, \"Quick start\", step 8); or fix O365_DOMAIN")
        if not domain.get("isVerified"):
            return Line(FAIL, title, f"{name} is not verified",
                        "add the TXT record Entra shows for the domain at your DNS host, then Verify")
        if domain.get("authenticationType") != "Federated":
            return Line(FAIL, title, f"{name} is {domain.get('authenticationType')}, not Federated",
                        "federate the domain with Auth0 (README, \"Quick start\", step 8)")
        return Line(OK, title, f"{name} is verified and Federated")

    def licence(self):
        """The SKU exists and has free seats (a warning under the low-water mark)."""
        part, title = self.s.o365_license_sku, "licence"
        skus = self.graph.subscribed_skus()
        sku = next((s for s in skus if s.get("skuPartNumber", "").lower() == part.lower()), None)
        if sku is None:
            known = ", ".join(sorted(s.get("skuPartNumber", "?") for s in skus)) or "none"
            return Line(FAIL, title, f"no subscription {part} (the tenant has: {known})",
                        "set O365_LICENSE_SKU to one of the skuPartNumbers listed, or buy the subscription")
        free = free_seats(sku)
        if free <= 0:
            return Line(FAIL, title, f"{part}: no free seats ({sku.get('consumedUnits')} in use)",
                        "buy more seats or remove licences from accounts that no longer need them")
        if free <= self.s.o365_seats_low_water:
            return Line(WARN, title, f"{part}: only {free} free seat(s), under O365_SEATS_LOW_WATER "
                        f"({self.s.o365_seats_low_water})", "buy more seats before the next wave of sign-ins")
        return Line(OK, title, f"{part}: {free} free seat(s)")

    # -- Auth0 -------------------------------------------------------------------------------------

    def auth0_lines(self):
        """Management API token, its scopes, and the Actions."""
        try:
            scopes = self.auth0.granted_scopes()
        except CompanionError as err:
            fix = AUTH0_FIXES.get(err.code) or "check AUTH0_DOMAIN and AUTH0_API_BASE_URL"
            return [Line(FAIL, "Auth0 token", f"refused: {err.vendor_message or err.message} ({err.code})", fix),
                    Line(SKIP, "Auth0 checks", "skipped: they need a Management API token")]
        lines = [Line(OK, "Auth0 token", f"obtained for {self.s.auth0_client_id}"), self.auth0_scopes(scopes)]
        return lines + [self.action(name) for name in REQUIRED_ACTIONS]

    def auth0_scopes(self, scopes):
        """The token's scopes cover every enabled feature and the Actions check."""
        missing = permissions.missing_auth0(self.features + [permissions.PREFLIGHT], scopes)
        if not missing:
            return Line(OK, "Auth0 scopes", f"cover the {len(self.features)} enabled features and the Actions check")
        detail = "; ".join(f"{scope} (for {feature})" for feature, scope in missing)
        return Line(FAIL, "Auth0 scopes", f"missing {detail}",
                    "Dashboard → Applications → APIs → Auth0 Management API → Machine To Machine Applications "
                    f"→ your app: tick {', '.join(sorted({s for _, s in missing}))}, then Update")

    def action(self, name):
        """The Action exists, is deployed and is bound to the post-login trigger."""
        title = f"Action {name}"
        try:
            found = self.auth0.actions_named(name, POST_LOGIN)
            bound = {b.get("action", {}).get("id") for b in self.auth0.trigger_bindings(POST_LOGIN)}
        except AuthFailed as err:
            return Line(FAIL, title, f"cannot read Actions ({err.code})", "grant read:actions to the "
                        "machine-to-machine app (only `service check` uses it)")
        except CompanionError as err:
            return Line(FAIL, title, err.message, "fix what the message names, then run the check again")
        if not found:
            return Line(FAIL, title, "not found for the post-login trigger",
                        "create it from auth0_actions/office365-provisioning.js (Dashboard → Actions → Library → "
                        "Create Action → Login / Post Login) or with the Deploy CLI (auth0_actions/deploy)")
        action = found[0]
        if not action.get("deployed_version"):
            return Line(FAIL, title, "exists but was never deployed", "open it in Actions → Library and Deploy")
        if action.get("id") not in bound:
            return Line(FAIL, title, "deployed but not bound to post-login",
                        "Actions → Triggers → post-login: drag it into the flow (after MFA-type Actions), Apply")
        if action.get("all_changes_deployed") is False:
            return Line(WARN, title, "deployed and bound; the editor holds changes not deployed yet",
                        "Deploy them, or discard them")
        return Line(OK, title, "deployed and bound to post-login")


def _sync_config(settings):
    """The sync mapping, and a ✗ line when SYNC_CONFIG cannot be read (the defaults are used then)."""
    try:
        return ConfigFile(settings.sync_config).get(), None
    except (SyncConfigError, OSError) as err:
        return SyncConfig(), Line(FAIL, "SYNC_CONFIG", str(err), "fix the mapping file (README, lifecycle sync)")


def _aadsts_sentence(text):
    """`AADSTS7000215: Invalid client secret provided.` out of Entra's long description (ids and all)."""
    if not text:
        return None
    head = text.split(" Trace ID:")[0]
    return head.split(". ")[0].rstrip(".") + "."


def _first_line(exc, url):
    """A short, secret-free description of an exception: class and first line, any password removed."""
    text = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".rstrip(": ")
    password = urlparse(url).password
    return text.replace(password, "[redacted]") if password else text
