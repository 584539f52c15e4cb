"""Fixtures for the client unit tests: a scripted local server and clients pointed at it."""
import random

import pytest

from service.clients._http import RetryPolicy
from service.clients.auth0 import Auth0Client
from service.clients.graph import GraphClient
from tests.clients.scripted import ScriptedServer


@pytest.fixture
def server():
    """A scripted HTTP server on loopback for this test."""
    srv = ScriptedServer()
    yield srv
    srv.stop()


@pytest.fixture
def sleeps():
    """The waits a client asked for, in order (nothing really sleeps)."""
    return []


@pytest.fixture
def graph_client(server, sleeps):
    """A GraphClient against the scripted server, with a fixed token and recorded sleeps."""
    return GraphClient(tokens=lambda: "test-token", base_url=server.url, timeout=2.0,
                       sleep=sleeps.append, rng=random.Random(7), retry=RetryPolicy())


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    """A hand-moved clock for token expiry."""
    return FakeClock()


@pytest.fixture
def auth0_client(server, sleeps, clock):
    """An Auth0Client against the scripted server, recording sleeps, with a hand-moved clock."""
    server.add("POST", "/oauth/token", (200, {"access_token": "m2m-token", "expires_in": 86400,
                                              "token_type": "Bearer"}))
    return Auth0Client(domain="tenant.example.auth0.com", client_id="cid", client_secret="s3cr3t-value",
                       base_url=server.url, timeout=2.0, sleep=sleeps.append, clock=clock,
                       rng=random.Random(7))
