"""Command line: `python -m service demo|sandbox|migrate|smart-link`."""
import argparse
import json
import sys


def _migrate(_args):
    from service.db import Store, migrate
    from service.settings import from_env
    migrate(Store(from_env().database_url).engine)
    print("database is up to date")


def _smart_link(args):
    from service import smartlinks
    from service.settings import from_env
    try:
        print(json.dumps(smartlinks.links_for(from_env(), args.target), indent=2))
    except smartlinks.DeepLinkRefused as why:
        sys.exit(f"refused: {why}")


def _demo(args):
    from service import demo
    sys.exit(demo.run(lag_s=args.lag, keep=args.keep))


def _sandbox(args):
    from service import demo
    demo.serve(port=args.port)


def main(argv=None):
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m service", description="Entra Companion for Auth0")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(run=_migrate)
    link = sub.add_parser("smart-link", help="print the Office 365 smart link for a deep link")
    link.add_argument("target", nargs="?", help="https deep link on an allowed host (O365_DEEP_LINK_HOSTS)")
    link.set_defaults(run=_smart_link)
    demo = sub.add_parser("demo", help="play a first and a returning Office 365 login on the sandbox")
    demo.add_argument("--lag", type=float, default=3.0, help="Entra replication lag in seconds (default 3)")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    demo.set_defaults(run=_demo)
    box = sub.add_parser("sandbox", help="run the emulators and the companion until Ctrl-C")
    box.add_argument("--port", type=int, default=8000)
    box.set_defaults(run=_sandbox)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
