"""Settings, read once from the environment into a frozen object that fails fast and clearly."""
import dataclasses
import os
import re
import uuid
from urllib.parse import urlparse

import pycountry

# Names of settings whose values are secrets: never echoed in an error or a log line.
SECRET_NAMES = ("AUTH0_CLIENT_SECRET", "ENTRA_CLIENT_SECRET", "COMPANION_SECRET", "ADMIN_API_KEY",
                "SLACK_WEBHOOK_URL", "SMTP_URL", "AUTH0_EVENTS_TOKEN", "METRICS_TOKEN", "CONSOLE_CLIENT_SECRET")
SYNC_EVENT_SOURCES = ("webhook", "delta")
DEFAULT_DATABASE_URL = "sqlite:///var/companion.db"
DEFAULT_QUEUE_URL = "sqlite:///var/queue.db"
# URL schemes the storage layers understand (anything else would fail late, or make a file named after it).
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
QUEUE_SCHEMES = ("sqlite", "redis", "rediss")
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# A fixed default keeps ImmutableIDs stable across restarts; deployments may set their own once.
DEFAULT_IMMUTABLE_ID_NAMESPACE = "6b0f3c1e-2a7d-5f4e-9c1b-8d2e4f6a7b90"


class ConfigError(Exception):
    """Start-up configuration is missing or malformed; the message lists every problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("Configuration error:\n" + "\n".join(f"  - {p}" for p in self.problems))


SERVER_WHOLE_NUMBERS = (("WEB_CONCURRENCY", 2, 64), ("GUNICORN_THREADS", 16, 256))


def server_problems(environ=None):
    """Problems with gunicorn's worker and thread counts (gunicorn itself dies on a malformed
    WEB_CONCURRENCY with a traceback before it reads any configuration)."""
    environ = os.environ if environ is None else environ
    problems = []
    for name, default, most in SERVER_WHOLE_NUMBERS:
        raw = environ.get(name, str(default)).strip()
        if not (raw.isdigit() and 1 <= int(raw) <= most):
            problems.append(f"{name} is malformed: expected a whole number 1-{most}, e.g. {default}")
    return problems


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting the service reads; built by from_env() and never changed afterwards."""

    auth0_domain: str
    auth0_client_id: str
    auth0_client_secret: str
    auth0_api_base_url: str
    entra_tenant_id: str
    entra_client_id: str
    entra_client_secret: str | None
    entra_cert_path: str | None
    entra_cert_thumbprint: str | None
    entra_authority_host: str
    graph_base_url: str
    companion_secret: str
    companion_public_url: str
    o365_domain: str
    o365_license_sku: str
    o365_usage_location: str
    database_url: str
    o365_upn_template: str = "{local}.{hash}"
    o365_disabled_plans: tuple = ()
    o365_auth0_client_id: str | None = None
    o365_deep_link_hosts: tuple = ()
    immutable_id_namespace: str = DEFAULT_IMMUTABLE_ID_NAMESPACE
    ca_bundle: str | None = None
    http_timeout: float = 10.0
    companion_api_audience: str | None = None
    dry_run: bool = False
    log_level: str = "INFO"
    sync_config: str | None = None
    queue_url: str = DEFAULT_QUEUE_URL
    sync_events: tuple = SYNC_EVENT_SOURCES
    delta_interval_s: float = 300.0
    risk_interval_s: float = 300.0
    admin_api_key: str | None = None
    slack_webhook_url: str | None = None
    smtp_url: str | None = None
    alert_email_from: str = "entra-companion@localhost"
    alert_email_to: tuple = ()
    reconcile_mode: str = "dry-run"
    reconcile_interval_s: float = 86400.0
    reconcile_keep_runs: int = 30
    reconcile_ticket_url: str | None = None
    auth0_events_token: str | None = None
    deprovision_unlicense_after_days: float = 7.0
    deprovision_delete_after_days: float | None = 30.0
    metrics_token: str | None = None
    # The operator console at /admin (service/views/console.py): off until CONSOLE_CLIENT_ID is set.
    console_client_id: str | None = None
    console_client_secret: str | None = None
    console_operator_role: str = "Companion Operator"
    console_operator_emails: tuple = ()
    console_roles_claim: str | None = None
    console_session_hours: float = 8.0
    o365_seats_low_water: int = 10
    seat_check_interval_s: float = 60.0
    graph_dedup_window_s: float = 60.0
    rule_upn_pattern: str = "auth0-{uuid}@{domain}"
    rule_domains: tuple = ()
    graph_ru_per_10s: int = 3500
    graph_ru_storage_url: str = "memory://"
    provision_threads: int = 64
    provision_poll_s: float = 0.25

    def secret_values(self):
        """The secret values, so log filters can redact them."""
        return tuple(v for v in (self.auth0_client_secret, self.entra_client_secret, self.companion_secret,
                                 self.admin_api_key, self.slack_webhook_url, self.smtp_url,
                                 self.auth0_events_token, self.metrics_token, self.console_client_secret) if v)


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self, environ):
        self.env, self.problems = environ, []

    def get(self, name, default=None, required=False, hint=""):
        value = (self.env.get(name) or "").strip()
        if value:
            return value
        if required:
            self.problems.append(f"{name} is not set{': ' + hint if hint else ''}")
        return default

    def check(self, name, ok, hint):
        if not ok:
            self.problems.append(f"{name} is malformed: {hint}")

    def url(self, name, default=None, required=False, schemes=("https",)):
        value = self.get(name, default, required, f"expected a URL like {schemes[0]}://host")
        if value:
            parsed = urlparse(value)
            self.check(name, parsed.scheme in schemes and bool(parsed.netloc),
                       f"expected an absolute {' or '.join(schemes)} URL with a host")
            return value.rstrip("/")
        return value

    def number(self, name, default):
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            self.problems.append(f"{name} is malformed: expected a number of seconds, e.g. {default}")
            return default

    def boolean(self, name, default=False):
        """true/false (also 1/0, yes/no, on/off); anything else is a problem, never a silent false."""
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() not in TRUE_WORDS + FALSE_WORDS:
            self.problems.append(f"{name} is malformed: expected true or false")
            return default
        return raw.lower() in TRUE_WORDS

    def storage_url(self, name, default, schemes, example):
        """A database or queue URL whose scheme the service can use (the value is never echoed: passwords)."""
        value = self.get(name, default)
        scheme, sep, rest = value.partition("://")
        ok = bool(sep) and scheme.lower() in schemes and (rest.startswith("/") if scheme == "sqlite" else bool(rest))
        self.check(name, ok, f"expected {example} (schemes: {', '.join(schemes)})")
        return value

    def choice(self, name, default, choices):
        """One of a fixed list of words (case-insensitive for the upper-case ones, e.g. LOG_LEVEL)."""
        value = self.get(name, default)
        value = value.upper() if value.upper() in choices else value
        self.check(name, value in choices, f"expected one of {', '.join(choices)}")
        return value

    def listing(self, name):
        raw = self.get(name) or ""
        return tuple(item.strip() for item in raw.split(",") if item.strip())


def _domain_ok(value):
    return bool(re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", value or "")) and "." in value


def _uuid_ok(value):
    try:
        uuid.UUID(value)
        return True
    except (ValueError, TypeError, AttributeError):
        return False


def _read_auth0(r):
    domain = r.get("AUTH0_DOMAIN", required=True, hint="your tenant domain, e.g. acme.eu.auth0.com")
    if domain:
        r.check("AUTH0_DOMAIN", _domain_ok(domain), "expected a bare host name like acme.eu.auth0.com")
    return dict(
        auth0_domain=domain or "",
        auth0_client_id=r.get("AUTH0_CLIENT_ID", required=True,
                              hint="client id of the Management API machine-to-machine app") or "",
        auth0_client_secret=r.get("AUTH0_CLIENT_SECRET", required=True,
                                  hint="client secret of the Management API machine-to-machine app") or "",
        auth0_api_base_url=r.url("AUTH0_API_BASE_URL", f"https://{domain}", schemes=("https", "http")),
    )


def _read_entra(r):
    tenant = r.get("ENTRA_TENANT_ID", required=True, hint="the directory (tenant) id, a GUID")
    client = r.get("ENTRA_CLIENT_ID", required=True, hint="the app registration's application id, a GUID")
    for name, value in (("ENTRA_TENANT_ID", tenant), ("ENTRA_CLIENT_ID", client)):
        if value:
            r.check(name, _uuid_ok(value), "expected a GUID like 8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b")
    secret = r.get("ENTRA_CLIENT_SECRET")
    cert, thumb = r.get("ENTRA_CERT_PATH"), r.get("ENTRA_CERT_THUMBPRINT")
    if not secret and not (cert and thumb):
        r.problems.append("ENTRA_CLIENT_SECRET is not set: give a client secret, or a certificate "
                          "with ENTRA_CERT_PATH (PEM with private key) and ENTRA_CERT_THUMBPRINT")
    if cert and not os.path.isfile(cert):
        r.problems.append("ENTRA_CERT_PATH is malformed: no such file")
    return dict(
        entra_tenant_id=tenant or "", entra_client_id=client or "", entra_client_secret=secret,
        entra_cert_path=cert, entra_cert_thumbprint=thumb,
        entra_authority_host=r.url("ENTRA_AUTHORITY_HOST", "https://login.microsoftonline.com"),
        graph_base_url=r.url("GRAPH_BASE_URL", "https://graph.microsoft.com"),
    )


def _read_companion(r):
    secret = r.get("COMPANION_SECRET", required=True,
                   hint="a random string of at least 32 characters shared with the Actions")
    if secret:
        r.check("COMPANION_SECRET", len(secret) >= 32, "must be at least 32 characters long")
    audience = r.get("COMPANION_API_AUDIENCE")
    return dict(
        companion_secret=secret or "",
        companion_public_url=r.url("COMPANION_PUBLIC_URL", required=True, schemes=("https", "http")) or "",
        companion_api_audience=audience,
        database_url=r.storage_url("DATABASE_URL", DEFAULT_DATABASE_URL, DATABASE_SCHEMES,
                                   "sqlite:///path/to/companion.db or postgresql://user:password@host:5432/db"),
        ca_bundle=_existing_file(r, "CA_BUNDLE"),
        http_timeout=r.number("HTTP_TIMEOUT_S", 10.0),
        dry_run=r.boolean("DRY_RUN"),
        log_level=r.choice("LOG_LEVEL", "INFO", LOG_LEVELS),
    )


def _existing_file(r, name):
    value = r.get(name)
    if value and not os.path.isfile(value):
        r.problems.append(f"{name} is malformed: no such file")
    return value


def _read_o365(r):
    domain = r.get("O365_DOMAIN", required=True, hint="the federated domain for UPNs, e.g. partners.acme.com")
    if domain:
        r.check("O365_DOMAIN", _domain_ok(domain), "expected a domain name like partners.acme.com")
    location = r.get("O365_USAGE_LOCATION", required=True, hint="an ISO 3166-1 alpha-2 country code, e.g. GB")
    if location:
        r.check("O365_USAGE_LOCATION", is_country(location),
                "expected an ISO 3166-1 alpha-2 country code in capitals, e.g. GB or US")
    template = r.get("O365_UPN_TEMPLATE", "{local}.{hash}")
    r.check("O365_UPN_TEMPLATE", "{hash}" in template or "{user_hash}" in template,
            "must contain {hash} so every UPN is unique, e.g. {local}.{hash}")
    namespace = r.get("IMMUTABLE_ID_NAMESPACE", DEFAULT_IMMUTABLE_ID_NAMESPACE)
    r.check("IMMUTABLE_ID_NAMESPACE", _uuid_ok(namespace), "expected a GUID")
    return dict(
        o365_domain=(domain or "").lower(),
        o365_license_sku=r.get("O365_LICENSE_SKU", required=True,
                               hint="a skuPartNumber such as ENTERPRISEPACK") or "",
        o365_usage_location=location or "",
        o365_upn_template=template,
        o365_disabled_plans=r.listing("O365_DISABLED_PLANS"),
        o365_auth0_client_id=r.get("OFFICE365_CLIENT_ID"),
        o365_deep_link_hosts=tuple(h.lower() for h in r.listing("O365_DEEP_LINK_HOSTS")),
        immutable_id_namespace=namespace,
        o365_seats_low_water=_count(r, "O365_SEATS_LOW_WATER", 10),
        seat_check_interval_s=r.number("SEAT_CHECK_INTERVAL_S", 60.0),
    )


def _count(r, name, default):
    """A whole number ≥ 0."""
    raw = r.get(name)
    if raw is None:
        return default
    whole = raw.isascii() and raw.isdigit()
    r.check(name, whole, f"expected a whole number ≥ 0, e.g. {default}")
    return int(raw) if whole else default


def _read_sync(r):
    sources = r.listing("SYNC_EVENTS") or SYNC_EVENT_SOURCES
    bad = [s for s in sources if s not in SYNC_EVENT_SOURCES]
    if bad:
        r.problems.append("SYNC_EVENTS is malformed: expected a comma-separated subset of webhook,delta")
    admin = r.get("ADMIN_API_KEY")
    if admin:
        r.check("ADMIN_API_KEY", len(admin) >= 24, "must be at least 24 characters long")
    smtp = r.get("SMTP_URL")
    if smtp:
        r.check("SMTP_URL", urlparse(smtp).scheme in ("smtp", "smtps") and bool(urlparse(smtp).hostname),
                "expected smtp://host:port or smtps://user:password@host:port")
    return dict(
        sync_config=_existing_file(r, "SYNC_CONFIG"),
        queue_url=r.storage_url("QUEUE_URL", DEFAULT_QUEUE_URL, QUEUE_SCHEMES,
                                "sqlite:///path/to/queue.db or redis://host:6379/0"),
        sync_events=tuple(s for s in sources if s in SYNC_EVENT_SOURCES),
        delta_interval_s=r.number("SYNC_DELTA_INTERVAL_S", 300.0),
        risk_interval_s=r.number("RISK_POLL_INTERVAL_S", 300.0),
        admin_api_key=admin,
        slack_webhook_url=r.url("SLACK_WEBHOOK_URL", schemes=("https", "http")),
        smtp_url=smtp,
        alert_email_from=r.get("ALERT_EMAIL_FROM", "entra-companion@localhost"),
        alert_email_to=r.listing("ALERT_EMAIL_TO"),
        graph_dedup_window_s=_seconds(r, "GRAPH_NOTIFICATION_DEDUP_S", 60.0),
    )


def _seconds(r, name, default):
    """A number of seconds ≥ 0."""
    value = r.number(name, default)
    r.check(name, value >= 0, f"expected a number of seconds ≥ 0, e.g. {default:g}")
    return max(value, 0.0)


def _read_reconcile(r):
    mode = r.get("RECONCILE_MODE", "dry-run")
    r.check("RECONCILE_MODE", mode in ("dry-run", "fix-safe"), "expected dry-run or fix-safe")
    keep = r.number("RECONCILE_KEEP_RUNS", 30)
    r.check("RECONCILE_KEEP_RUNS", keep >= 1 and keep == int(keep), "expected a whole number of runs ≥ 1")
    return dict(reconcile_mode=mode, reconcile_interval_s=r.number("RECONCILE_INTERVAL_S", 86400.0),
                reconcile_keep_runs=int(keep),
                reconcile_ticket_url=r.url("RECONCILE_TICKET_URL", schemes=("https", "http")))


def _days(r, name, default, allow_never=False):
    """Whole or fractional days ≥ 0 (and, where allowed, `never`)."""
    raw = r.get(name)
    if raw is None:
        return default
    if allow_never and raw.lower() == "never":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    r.check(name, value >= 0, f"expected a number of days ≥ 0{' or never' if allow_never else ''}, "
                              f"e.g. {default:g}")
    return value if value >= 0 else default


def _read_auth0_events(r):
    """Auth0 Event Streams webhook and the graded deprovisioning of the Entra accounts the companion made."""
    token = r.get("AUTH0_EVENTS_TOKEN")
    if token:
        r.check("AUTH0_EVENTS_TOKEN", len(token) >= 24, "must be at least 24 characters long")
    return dict(
        auth0_events_token=token,
        deprovision_unlicense_after_days=_days(r, "DEPROVISION_UNLICENSE_AFTER_DAYS", 7.0),
        deprovision_delete_after_days=_days(r, "DEPROVISION_DELETE_AFTER_DAYS", 30.0, allow_never=True),
    )


def _read_operations(r):
    """Metrics endpoint protection and the preflight's licence low-water mark."""
    token = r.get("METRICS_TOKEN")
    if token:
        r.check("METRICS_TOKEN", len(token) >= 24, "must be at least 24 characters long")
    return dict(metrics_token=token)


def _read_console(r):
    """The operator console: an Auth0 Regular Web Application and who counts as an operator."""
    client_id = r.get("CONSOLE_CLIENT_ID")
    secret = r.get("CONSOLE_CLIENT_SECRET", required=bool(client_id),
                   hint="the client secret of the console's Auth0 Regular Web Application")
    hours = r.number("CONSOLE_SESSION_HOURS", 8.0)
    r.check("CONSOLE_SESSION_HOURS", 0 < hours <= 24 * 7, "expected a number of hours between 0 and 168, e.g. 8")
    public = urlparse(r.get("COMPANION_PUBLIC_URL") or "")
    if client_id and public.scheme == "http" and public.hostname not in ("127.0.0.1", "localhost", "::1"):
        r.problems.append("COMPANION_PUBLIC_URL is malformed: the console needs https (its session cookie is "
                          "Secure); plain http is only accepted on 127.0.0.1 or localhost")
    return dict(console_client_id=client_id, console_client_secret=secret,
                console_operator_role=r.get("CONSOLE_OPERATOR_ROLE", "Companion Operator"),
                console_operator_emails=tuple(e.lower() for e in r.listing("CONSOLE_OPERATOR_EMAILS")),
                console_roles_claim=r.get("CONSOLE_ROLES_CLAIM"), console_session_hours=hours)


def _read_rule(r):
    """Migration from Auth0's Office 365 Rule: the UPN pattern it used and the federated domain(s) it wrote to."""
    pattern = r.get("RULE_UPN_PATTERN", "auth0-{uuid}@{domain}")
    r.check("RULE_UPN_PATTERN", pattern.count("{uuid}") == 1 and "@" in pattern
            and not re.search(r"\{(?!uuid\}|domain\})", pattern),
            "expected one {uuid} and an @, e.g. auth0-{uuid}@{domain} ({domain} is optional)")
    domains = tuple(d.lower() for d in r.listing("RULE_DOMAINS"))
    for domain in domains:
        r.check("RULE_DOMAINS", _domain_ok(domain), "expected comma-separated domain names, e.g. partners.contoso.com")
    return dict(rule_upn_pattern=pattern, rule_domains=domains)


def _read_scale(r):
    """The shared Graph budget and the background provisioning driver."""
    ru = r.number("GRAPH_RU_PER_10S", 3500)
    r.check("GRAPH_RU_PER_10S", ru >= 0 and ru == int(ru),
            "expected a whole number of resource units per 10 s (3500, 5000 or 8000 by tenant size; 0 = off)")
    queue = r.get("QUEUE_URL", "")
    storage = r.get("GRAPH_RU_STORAGE_URL", queue if queue.startswith(("redis://", "rediss://")) else "memory://")
    r.check("GRAPH_RU_STORAGE_URL", storage.startswith(("redis://", "rediss://", "memory://")),
            "expected redis://host:port/db (shared by every instance) or memory:// (this process only)")
    threads = r.number("PROVISION_THREADS", 64)
    r.check("PROVISION_THREADS", 1 <= threads <= 256 and threads == int(threads), "expected a whole number 1-256")
    poll = r.number("PROVISION_POLL_S", 0.25)
    r.check("PROVISION_POLL_S", 0.05 <= poll <= 60, "expected seconds between 0.05 and 60, e.g. 0.25")
    return dict(graph_ru_per_10s=int(ru), graph_ru_storage_url=storage, provision_threads=int(threads),
                provision_poll_s=poll)


def is_country(code):
    """True for an ISO 3166-1 alpha-2 code in capitals, e.g. GB."""
    return bool(code) and len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def from_env(environ=None):
    """Build Settings from the environment, or raise ConfigError naming every problem."""
    r = _Reader(os.environ if environ is None else environ)
    values = {**_read_auth0(r), **_read_entra(r), **_read_companion(r), **_read_o365(r), **_read_sync(r),
              **_read_reconcile(r), **_read_auth0_events(r), **_read_operations(r), **_read_console(r),
              **_read_rule(r), **_read_scale(r)}
    if r.problems:
        raise ConfigError(r.problems)
    return Settings(**values)
