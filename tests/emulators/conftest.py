"""Fixtures for the in-process Auth0 emulator tests (the Graph tests here use their own helpers)."""
import pytest

from emulators.auth0.testing import Auth0TestClient
from tests.support.emulators import AUTH0_DOMAIN


@pytest.fixture(scope="module")
def shared():
    """One spec-checked Auth0 emulator app per test module, on the sandbox tenant domain."""
    client = Auth0TestClient(domain=AUTH0_DOMAIN, validate_spec=True)
    yield client
    assert client.control("GET", "violations") == []  # every answer matched Auth0's OpenAPI extract


@pytest.fixture
def emu(shared):
    """The module's Auth0 emulator, reset to its seeded state."""
    shared.reset()
    return shared
