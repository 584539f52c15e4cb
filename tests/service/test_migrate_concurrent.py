"""Web, worker and replicas all migrate at start-up: on a fresh database they must not trip over each other."""
import subprocess
import sys
import time

from sqlalchemy import inspect

from service.db import Store
from service.sandbox import ROOT

# Each process sleeps until the same instant, so the four upgrades really start together.
SCRIPT = """
import sys, time
from service.db import Store, migrate
store = Store(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
migrate(store.engine)
"""


def test_four_concurrent_migrations_on_a_fresh_database_all_succeed(database_url):
    start_at = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, database_url, str(start_at)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    results = [(p.wait(120), p.stdout.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], "\n".join(out[-2000:] for _, out in results)
    tables = set(inspect(Store(database_url).engine).get_table_names())
    assert {"alembic_version", "identity_links", "audit_log", "sync_events"} <= tables
