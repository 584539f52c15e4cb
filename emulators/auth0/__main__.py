"""`python -m emulators.auth0 --port P [...]`: serve the emulator over plain HTTP on loopback."""
import argparse

from werkzeug.serving import run_simple

from emulators.auth0.app import create_app
from emulators.auth0.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_DOMAIN, Auth0Config


def parse_args(argv=None):
    """The command line (its flags map one to one onto Auth0Config)."""
    parser = argparse.ArgumentParser(prog="python -m emulators.auth0", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--domain", default=SANDBOX_DOMAIN)
    parser.add_argument("--client-id", default=SANDBOX_CLIENT_ID)
    parser.add_argument("--client-secret", default=SANDBOX_CLIENT_SECRET)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=1000.0, help="Management API requests per second")
    parser.add_argument("--validate-spec", action="store_true",
                        help="check every /api/v2 exchange against the vendor OpenAPI extract")
    return parser.parse_args(argv)


def main(argv=None):
    """Build the app and serve it with werkzeug's threaded server."""
    args = parse_args(argv)
    config = Auth0Config(port=args.port, host=args.host, domain=args.domain, client_id=args.client_id,
                         client_secret=args.client_secret, latency_ms=args.latency_ms,
                         rate_limit=args.rate_limit, validate_spec=args.validate_spec)
    print(f"Auth0 emulator for {config.domain} on http://{config.host}:{config.port}", flush=True)
    run_simple(config.host, config.port, create_app(config), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
