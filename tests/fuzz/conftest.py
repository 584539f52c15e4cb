"""The real WSGI app on PostgreSQL, wired to both emulators, with every credential set, for fuzzing."""
import time

import pytest
import schemathesis
from jose import jwt

from service import create_app, sandbox, tokens
from service.db import migrate
from service.settings import from_env
from service.sync.subscriptions import client_state
from tests.support.databases import PgSchema

ADMIN_KEY = "fuzz-admin-key-0123456789abcdef"
EVENTS_TOKEN = "fuzz-events-token-0123456789abcdef"


class Fuzzed:
    """The app under test and the credentials a legitimate caller of each operation holds."""

    def __init__(self, app):
        self.app = app
        self.client_state = client_state(app.extensions["companion"].settings)

    @staticmethod
    def action_token(sub, **over):
        """A well-formed Action bearer token for sub."""
        now = int(time.time())
        claims = {"iss": tokens.ACTION_ISSUER, "aud": tokens.ACTION_AUDIENCE, "sub": sub, "iat": now,
                  "exp": now + 60, **over}
        return jwt.encode(claims, sandbox.COMPANION_SECRET, algorithm="HS256")


@pytest.fixture(scope="package")
def fuzzed(graph_emulator, auth0_emulator, tmp_path_factory):
    """One app for the whole fuzz run (PostgreSQL: the backend that refuses NUL and lone surrogates)."""
    # Fuzzing judges answers, not waits: an inline POST answers pending after 0.2 s instead of 5 s.
    patch = pytest.MonkeyPatch()
    patch.setattr("service.views.api.INLINE_WAIT_S", 0.2)
    graph_emulator.reset()
    auth0_emulator.reset()
    schema = PgSchema()
    tmp = tmp_path_factory.mktemp("fuzz")
    env = sandbox.companion_env(graph_emulator, auth0_emulator, schema.url, queue_url=f"sqlite:///{tmp}/q.db",
                                ADMIN_API_KEY=ADMIN_KEY, AUTH0_EVENTS_TOKEN=EVENTS_TOKEN, LOG_LEVEL="WARNING")
    app = create_app(from_env(env))
    migrate(app.extensions["companion"].store.engine)
    yield Fuzzed(app)
    app.extensions["companion"].driver.stop(wait_s=30)  # no pass may outlive the schema it writes to
    app.extensions["companion"].store.dispose()
    schema.drop()
    patch.undo()


@pytest.fixture(scope="package")
def api_schema(fuzzed):
    """The app's own description, loaded from GET /openapi.json."""
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzzed.app)
