"""SQLite files and throw-away PostgreSQL schemas for tests that run on both backends."""
import os
import secrets
import subprocess

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_up():
    try:
        with create_engine(PG_ADMIN_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def ensure_postgres():
    """Start the machine's PostgreSQL if it is down (command from the env notes); skip if impossible."""
    if _pg_up():
        return
    versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
    if versions:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"],
                       check=False, capture_output=True)
    if not _pg_up():
        pytest.skip("PostgreSQL is not installed on this machine and could not be started")


class PgSchema:
    """A fresh schema in the test database, reached through search_path."""

    def __init__(self):
        ensure_postgres()
        self.name = "t_" + secrets.token_hex(6)
        with create_engine(PG_ADMIN_URL).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        self.url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{self.name}"

    def drop(self):
        """Remove the schema and everything in it."""
        with create_engine(PG_ADMIN_URL).begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A migrated-from-empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/companion.db"
        return
    schema = PgSchema()
    yield schema.url
    schema.drop()
