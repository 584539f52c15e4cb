"""Database engine, sessions and migrations (SQLite by default, PostgreSQL through DATABASE_URL)."""
import contextlib
import os

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
# pg_advisory_xact_lock key shared by every process that migrates (web, worker, replicas, the CLI).
MIGRATION_LOCK_KEY = 0x0E7C_0A11
MIGRATION_LOCK_WAIT_S = 600


def normalise_url(url):
    """Use psycopg 3 for postgresql:// URLs and create the folder of a SQLite file."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        folder = os.path.dirname(url[len("sqlite:///"):])
        if folder:
            os.makedirs(folder, exist_ok=True)
    return url


def make_engine(url, hot=False):
    """An engine tuned for the backend: WAL and a busy timeout so SQLite takes several workers.

    hot=True: connections opened in autocommit and never pinged before use, for single statements that
    Store.first() sends again once when the database dropped their connection (a ping is a round trip,
    and on a shared pool autocommit is switched on and off at every checkout)."""
    url = normalise_url(url)
    mode = {"isolation_level": "AUTOCOMMIT"} if hot else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **mode)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if hot:  # one per request thread at most: web threads and the provisioning pool share it
        return create_engine(url, pool_size=5, max_overflow=15, **mode)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: still safe from corruption, and
    # a login storm's many small writes no longer queue behind one fsync each (steps are idempotent,
    # so a commit lost to a power cut is redone, never duplicated).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def migrate(engine):
    """Bring the schema up to the newest migration, one process at a time."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with _migration_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends; the others then see the committed schema and do nothing.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _migration_lock(engine):
    """A lock file beside a SQLite database (SQLite has no advisory locks); nothing for PostgreSQL."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return contextlib.nullcontext()
    return FileLock(path + ".migrate.lock", timeout=MIGRATION_LOCK_WAIT_S)


def ping(engine):
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # readiness reports any failure as not ready
        return False


class Store:
    """The engine and a session factory, one per process."""

    def __init__(self, url):
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._single = sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                    expire_on_commit=False)
        self._hot = make_engine(url, hot=True)

    @contextlib.contextmanager
    def statement(self):
        """A session whose statements each commit by themselves: for one read or one atomic upsert, no
        BEGIN and COMMIT round trips around it (a login storm's hottest queries on PostgreSQL)."""
        with self._single() as session:
            yield session

    def dispose(self):
        """Close every pooled connection (tests and scripts that are done with the database)."""
        self.engine.dispose()
        self._hot.dispose()

    def first(self, statement, params):
        """The first row (or None) of one prebuilt Core statement, committed by itself: the hottest reads
        and the first login's insert skip the ORM. A connection the database dropped (a restart, an idle
        timeout) is replaced and the statement sent once more; each caller's statement is safe to repeat."""
        for attempt in (1, 2):
            try:
                with self._hot.connect() as conn:
                    return conn.execute(statement, params).first()
            except DBAPIError as error:
                if attempt == 2 or not error.connection_invalidated:
                    raise

    @contextlib.contextmanager
    def session(self):
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


def migrations_config():
    """Alembic's configuration for the project's migrations (the preflight reads the newest revision)."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return cfg
