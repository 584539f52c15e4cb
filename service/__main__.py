"""Command line: `python -m service check|demo|sandbox|migrate|smart-link|worker|…`."""
import argparse
import json
import sys


def _migrate(_args):
    from service.db import Store, migrate
    from service.settings import from_env
    migrate(Store(from_env().database_url).engine)
    print("database is up to date")


def _check(_args):
    from service import preflight
    lines = preflight.run()
    print(preflight.render(lines))
    sys.exit(1 if preflight.failed(lines) else 0)


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
    demo.serve(port=args.port, **({"work_dir": args.dir} if args.dir else {}))


def _web(_args):
    """gunicorn with the project's configuration, once its own settings and ours read cleanly."""
    import os
    from service import logs
    from service.settings import ConfigError, from_env, server_problems
    problems = server_problems()
    try:
        from_env()
    except ConfigError as err:
        problems += err.problems
    if problems:
        logs.config_error(ConfigError(problems))
        sys.exit(2)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    conf = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gunicorn.conf.py")
    os.execv(gunicorn, [gunicorn, "-c", conf, "service:create_app()"])


def _worker(args):
    from service import worker
    from service.settings import from_env
    worker.run(from_env(), threads=args.threads, redrive_after_s=args.redrive_after)


def _events(args):
    from service import jobs
    from service.companion import Companion
    from service.settings import from_env
    from service.sync import inbox
    companion = Companion.build(from_env())
    if args.requeue or args.approve:
        ids = inbox.requeue(companion.store, args.requeue or args.approve, approved=bool(args.approve))
        for event_id in ids:
            jobs.enqueue(event_id)
        print(json.dumps({"requeued": ids}))
        return
    for e in inbox.listing(companion.store, args.status):
        print(json.dumps({"id": e.id, "kind": e.kind, "object_id": e.object_id, "status": e.status,
                          "attempts": e.attempts, "last_error": e.last_error}))


def _audit(args):
    from service.audit import trail
    from service.companion import Companion
    from service.settings import from_env
    for r in trail(Companion.build(from_env()).store, args.user):
        print(json.dumps({"at": r.at.isoformat(), "action": r.action, "outcome": r.outcome,
                          "auth0_user_id": r.auth0_user_id, "entra_object_id": r.entra_object_id,
                          "reference": r.reference, "detail": r.detail}))


def _sync(args):
    from service import jobs
    from service.companion import Companion
    from service.settings import from_env
    from service.sync import inbox
    companion = Companion.build(from_env())
    if args.what == "user" and not args.object_id:
        sys.exit("give the Entra object id: python -m service sync user <object id>")
    if args.what == "auth0_user" and not args.object_id:
        sys.exit("give the Auth0 user id: python -m service sync auth0_user <user id>")
    kind, oid = (args.what, args.object_id) if args.what in ("user", "auth0_user") else (args.what, None)
    event_id = inbox.record(companion.store, kind, oid, "cli")
    jobs.enqueue(event_id)
    print(json.dumps({"queued": event_id, "kind": kind}))


def _reconcile(args):
    from service.companion import Companion
    from service.reconcile import remediate, report, runs
    from service.reconcile.run import reconcile
    from service.settings import from_env
    from service.sync.context import SyncContext
    settings = from_env()
    ctx = SyncContext(Companion.build(settings))
    if args.action == "run":
        run_id = reconcile(ctx, args.mode or settings.reconcile_mode, settings.reconcile_keep_runs)
        print(json.dumps({"run": run_id, "summary": runs.get(ctx.store, run_id).summary}))
    elif args.action == "approve":
        print(json.dumps(remediate.approve(ctx, _run_id(ctx, args))))
    else:
        run = runs.get(ctx.store, _run_id(ctx, args))
        if args.format == "html":
            from service import create_app
            with create_app(settings).app_context():
                print(report.as_html(run))
        else:
            print(report.RENDERERS[args.format][0](run))


def _rule_import(args):
    from service.companion import Companion
    from service.reconcile import runs
    from service.rule_import import output
    from service.rule_import.run import rule_import
    from service.settings import from_env
    from service.sync.context import SyncContext
    from service import logs
    from service.settings import ConfigError
    try:
        kind = output.format_of(args.report) if args.report else None
        settings = from_env()
    except (ValueError, ConfigError) as why:
        sys.exit(str(why))  # one line per problem, no traceback
    logs.configure(settings)  # JSON log lines on stderr, secrets redacted
    ctx = SyncContext(Companion.build(settings))
    if kind == "html":
        from service import create_app
        with create_app(settings).app_context():
            run_id = rule_import(ctx, args.apply, args.report)
    else:
        run_id = rule_import(ctx, args.apply, args.report)
    run = runs.get(ctx.store, run_id)
    print(json.dumps({"run": run_id, "mode": run.mode, "summary": run.summary, "report": args.report,
                      "approve": f"python -m service reconcile approve --run {run_id}"}))


def _run_id(ctx, args):
    from service.reconcile import runs
    if args.run_id:
        return args.run_id
    newest = runs.latest(ctx.store, 1)
    if not newest:
        sys.exit("no reconciliation run yet: python -m service reconcile run")
    return newest[0].id


def main(argv=None):
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m service", description="Entra Companion for Auth0")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(run=_migrate)
    sub.add_parser("check", help="preflight: settings, Entra, Graph permissions, domain, licence, Auth0, "
                                 "Actions, database, queue").set_defaults(run=_check)
    link = sub.add_parser("smart-link", help="print the Office 365 smart link for a deep link")
    link.add_argument("target", nargs="?", help="https deep link on an allowed host (O365_DEEP_LINK_HOSTS)")
    link.set_defaults(run=_smart_link)
    demo = sub.add_parser("demo", help="play a first and a returning Office 365 login on the sandbox")
    demo.add_argument("--lag", type=float, default=3.0, help="Entra replication lag in seconds (default 3)")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    demo.set_defaults(run=_demo)
    box = sub.add_parser("sandbox", help="run the emulators and the companion until Ctrl-C")
    box.add_argument("--port", type=int, default=8000)
    box.add_argument("--dir", help="folder for its database, logs and CA (default var/sandbox; make demo uses var/demo)")
    box.set_defaults(run=_sandbox)
    sub.add_parser("web", help="run the web service under gunicorn (gunicorn.conf.py), settings checked first"
                   ).set_defaults(run=_web)
    work = sub.add_parser("worker", help="run the sync worker (huey consumer + scheduler)")
    work.add_argument("--threads", type=int, default=4)
    work.add_argument("--redrive-after", type=float, default=120.0,
                      help="seconds after which an unfinished event is queued again (default 120)")
    work.set_defaults(run=_worker)
    ev = sub.add_parser("events", help="list sync events by status, re-drive failed ones, approve held ones")
    ev.add_argument("--status", default="failed", choices=["failed", "held", "queued", "running", "done"])
    ev.add_argument("--requeue", type=int, nargs="+", metavar="ID")
    ev.add_argument("--approve", type=int, nargs="+", metavar="ID")
    ev.set_defaults(run=_events)
    aud = sub.add_parser("audit", help="audit trail of one user (Auth0 user id or Entra object id)")
    aud.add_argument("user")
    aud.set_defaults(run=_audit)
    syn = sub.add_parser("sync", help="queue a sync now: one Entra user, or a delta round, risk poll …")
    syn.add_argument("what", choices=["user", "users_delta", "groups_delta", "risk_poll", "ensure_subscriptions",
                                      "escalate", "auth0_user", "deprovision_steps", "seat_check"])
    syn.add_argument("object_id", nargs="?",
                     help="Entra object id (with 'user'), Auth0 user id (with 'auth0_user')")
    syn.set_defaults(run=_sync)
    rec = sub.add_parser("reconcile", help="reconcile Auth0 and Entra now, show a run's report, approve proposals")
    rec.add_argument("action", choices=["run", "report", "approve"])
    rec.add_argument("--run", dest="run_id", type=int, help="run id (default: the newest)")
    rec.add_argument("--mode", choices=["dry-run", "fix-safe"], help="default: RECONCILE_MODE")
    rec.add_argument("--format", choices=["json", "csv", "html"], default="json")
    rec.set_defaults(run=_reconcile)
    rule = sub.add_parser("rule-import", help="adopt the Office 365 Rule's users, fix its metadata, propose its "
                                               "leftovers (dry run unless --apply)")
    rule.add_argument("--apply", action="store_true", help="adopt, set metadata, licence and restore (safe classes)")
    rule.add_argument("--report", metavar="FILE", help="write the report to FILE (.json, .csv or .html)")
    rule.set_defaults(run=_rule_import)
    args = parser.parse_args(argv)
    args.run(args)


def cli(argv=None):
    """main() with JSON log lines from the start, and each configuration problem as one line, no traceback."""
    from service import logs
    from service.settings import ConfigError, from_env
    logs.setup()
    try:
        logs.configure(from_env())  # the configured level and secret redaction, when the settings are valid
    except ConfigError:
        pass  # commands that need the settings report every problem below
    try:
        main(argv)
    except ConfigError as err:
        logs.config_error(err)
        sys.exit(2)


if __name__ == "__main__":
    cli()
