"""Environment for a companion wired to the running emulators."""
import secrets

from tests.support import emulators as emu

COMPANION_SECRET = "sandbox-companion-secret-" + "0123456789abcdef" * 2


def companion_env(graph, auth0, database_url, public_url="http://127.0.0.1:8000", **extra):
    """Every variable the companion needs, pointing at the emulators."""
    env = {
        "AUTH0_DOMAIN": emu.AUTH0_DOMAIN,
        "AUTH0_CLIENT_ID": emu.AUTH0_CLIENT_ID,
        "AUTH0_CLIENT_SECRET": emu.AUTH0_CLIENT_SECRET,
        "AUTH0_API_BASE_URL": auth0.url,
        "ENTRA_TENANT_ID": emu.GRAPH_TENANT_ID,
        "ENTRA_CLIENT_ID": emu.GRAPH_CLIENT_ID,
        "ENTRA_CLIENT_SECRET": emu.GRAPH_CLIENT_SECRET,
        "ENTRA_AUTHORITY_HOST": graph.url,
        "GRAPH_BASE_URL": graph.url,
        "CA_BUNDLE": graph.verify,
        "COMPANION_SECRET": COMPANION_SECRET,
        "COMPANION_PUBLIC_URL": public_url,
        "O365_DOMAIN": emu.FEDERATED_DOMAIN,
        "O365_LICENSE_SKU": emu.SKU_PART_NUMBER,
        "O365_USAGE_LOCATION": "GB",
        "OFFICE365_CLIENT_ID": "o365-client-" + secrets.token_hex(4),
        "O365_DEEP_LINK_HOSTS": "contoso.sharepoint.com,outlook.office.com",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env
