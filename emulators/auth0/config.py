"""Start-up options and sandbox seed data of the Auth0 Management API emulator."""
import os
from dataclasses import dataclass, field

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The vendor extract lives beside the repository (/work/shared/DESIGN.md, "Shape").
SPEC_PATH = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "specs", "auth0-mgmt-v2-subset.json"))

SANDBOX_DOMAIN = "sandbox.eu.auth0.com"
SANDBOX_CLIENT_ID = "sandbox-m2m-client-id"
SANDBOX_CLIENT_SECRET = "sandbox-m2m-client-secret"
MAX_BODY_BYTES = 1024 * 1024  # "Maximum payload 1 MB" (facts §3)
TOKEN_LIFETIME_S = 86400  # default M2M token lifetime (facts §3.7)

# Scopes the sandbox M2M application is granted (facts §3.7 plus the reads its calls need).
DEFAULT_SCOPES = (
    "read:users update:users create:users delete:users update:users_app_metadata read:roles "
    "create:roles update:roles create:role_members delete:role_members read:sessions delete:sessions "
    "read:refresh_tokens delete:refresh_tokens read:logs read:logs_users read:connections "
    "create:user_tickets read:actions"
)

# Connection ids follow the vendor pattern ^con_[A-Za-z0-9]{16}$ (CreateExportUsersRequestContent).
SEED_CONNECTIONS = (
    {"id": "con_sandboxdb0000001", "name": "Username-Password-Authentication", "strategy": "auth0"},
    {"id": "con_googleoauth20001", "name": "google-oauth2", "strategy": "google-oauth2"},
    {"id": "con_partnersaml00001", "name": "partner-saml", "strategy": "samlp"},
    {"id": "con_zentraidwaad0001", "name": "contoso-entra", "strategy": "waad"},
)
SEED_ROLES = (
    {"id": "rol_sandboxstaff0001", "name": "Staff", "description": "Employees and long-term staff"},
    {"id": "rol_sandboxpartner01", "name": "Partner Admin", "description": "Administrators at partner firms"},
    {"id": "rol_sandboxspeditor1", "name": "SharePoint Editors", "description": "Edit rights on SharePoint sites"},
)
# A Regular Web Application for the companion's console; its callback and logout URLs are set at run time
# (POST /_emulator/applications), because the console's port is only known once it starts.
SEED_APPLICATIONS = (
    {"client_id": "sandbox-console-client-id", "client_secret": "sandbox-console-client-secret",
     "name": "Entra Companion console", "callbacks": [], "allowed_logout_urls": []},
)


@dataclass
class Auth0Config:
    """Options of one emulator instance; run-time knobs start from these and reset to them."""

    port: int = 8480
    host: str = "127.0.0.1"
    domain: str = SANDBOX_DOMAIN
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = field(default=SANDBOX_CLIENT_SECRET, repr=False)
    latency_ms: float = 0.0
    rate_limit: float = 1000.0
    validate_spec: bool = False
    spec_path: str = SPEC_PATH

    @property
    def issuer(self):
        """The `iss` of tokens the tenant signs."""
        return f"https://{self.domain}/"

    @property
    def audience(self):
        """The Management API audience, always on the canonical tenant domain (facts §3.7)."""
        return f"https://{self.domain}/api/v2/"
