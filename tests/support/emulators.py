"""Emulator handles and sandbox constants for tests (the sandbox module owns them)."""
from service.sandbox import (AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, AUTH0_DOMAIN, FEDERATED_DOMAIN,  # noqa: F401
                             GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID, MANAGED_DOMAIN, ROOT,
                             SKU_ID, SKU_PART_NUMBER, Emulator, start_auth0, start_graph)
