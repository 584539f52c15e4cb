"""`python -m emulators.graph --port P [...]`: the Graph/Entra emulator over HTTPS."""
import argparse
import sys

from emulators.graph import create_app
from emulators.graph.certs import ensure_certificates
from emulators.graph.config import GraphConfig
from emulators.graph.server import serve


def parse_args(argv):
    """GraphConfig from the command line (flags documented in emulators/README.md)."""
    defaults = GraphConfig()
    p = argparse.ArgumentParser(prog="python -m emulators.graph", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default=defaults.host)
    p.add_argument("--cert-dir", default=defaults.cert_dir)
    p.add_argument("--validate-spec", action="store_true")
    p.add_argument("--tenant-id", default=defaults.tenant_id)
    p.add_argument("--client-id", default=defaults.client_id)
    p.add_argument("--client-secret", default=defaults.client_secret)
    p.add_argument("--client-cert-pem", default=None, help="certificate whose key may sign client assertions")
    p.add_argument("--federated-domain", default=defaults.federated_domain)
    p.add_argument("--seats", type=int, default=defaults.seats)
    p.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    p.add_argument("--replication-lag", dest="replication_lag_s", type=float, default=defaults.replication_lag_s)
    p.add_argument("--ru-per-10s", type=int, default=defaults.ru_per_10s)
    args = p.parse_args(argv)
    return GraphConfig(**vars(args))


def main(argv=None):
    config = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_app(config)
    cert_path, key_path = ensure_certificates(config.cert_dir)
    print(f"Graph/Entra emulator on https://{config.host}:{config.port} (tenant {config.tenant_id})",
          file=sys.stderr, flush=True)
    serve(app, config.host, config.port, cert_path, key_path)


if __name__ == "__main__":
    main()
