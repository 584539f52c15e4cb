"""Start-up options of the Graph/Entra emulator (CLI flags map one to one onto these fields)."""
import os
from dataclasses import dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The vendor extract lives beside the repository (see /work/shared/DESIGN.md, "Shape").
SPEC_PATH = os.path.join(REPO_ROOT, "..", "shared", "specs", "msgraph-v1.0-subset.yaml")

SANDBOX_TENANT_ID = "8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b"
SANDBOX_CLIENT_ID = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
SANDBOX_CLIENT_SECRET = "sandbox-entra-secret"
MANAGED_DOMAIN = "contoso.onmicrosoft.com"
FEDERATED_DOMAIN = "partners.contoso.com"


@dataclass
class GraphConfig:
    """Options of one emulator instance; the run-time knobs start from these and reset to them."""

    port: int = 8443
    host: str = "127.0.0.1"
    cert_dir: str = os.path.join("var", "emulator-certs")
    validate_spec: bool = False
    tenant_id: str = SANDBOX_TENANT_ID
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    client_cert_pem: str | None = None
    federated_domain: str = FEDERATED_DOMAIN
    seats: int = 1000
    latency_ms: float = 0.0
    replication_lag_s: float = 0.0
    ru_per_10s: int = 0
    spec_path: str = SPEC_PATH
