"""Client settings pointed at the emulators, and seeded sandbox ids the client tests rely on."""
import types

from tests.support.emulators import (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_DOMAIN, GRAPH_CLIENT_ID,
                                     GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID)

EXCHANGE_STANDARD = "4b9405b0-7788-4568-add1-99614e613b69"  # the sandbox's second SKU
ADMIN_ID = "0a1b2c3d-0000-4000-8000-000000000001"
AOIFE_OBRIEN_ID = "0a1b2c3d-0000-4000-8000-000000000002"
LEE_ID = "0a1b2c3d-0000-4000-8000-000000000003"
ENGINEERING_ID = "1b2c3d4e-0000-4000-8000-000000000001"


def graph_settings(graph, **over):
    """The Entra/Graph part of Settings, pointed at a Graph emulator."""
    values = dict(entra_tenant_id=GRAPH_TENANT_ID, entra_client_id=GRAPH_CLIENT_ID,
                  entra_client_secret=GRAPH_CLIENT_SECRET, entra_cert_path=None, entra_cert_thumbprint=None,
                  entra_authority_host=graph.url, graph_base_url=graph.url, ca_bundle=graph.verify,
                  http_timeout=5.0, dry_run=False)
    values.update(over)
    return types.SimpleNamespace(**values)


def auth0_settings(auth0, **over):
    """The Auth0 part of Settings, pointed at an Auth0 emulator."""
    values = dict(auth0_domain=AUTH0_DOMAIN, auth0_client_id=AUTH0_CLIENT_ID,
                  auth0_client_secret=AUTH0_CLIENT_SECRET, auth0_api_base_url=auth0.url, ca_bundle=None,
                  http_timeout=5.0, dry_run=False)
    values.update(over)
    return types.SimpleNamespace(**values)
