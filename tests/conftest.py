"""Suite-wide fixtures: the two emulators, started once per session and reset per test."""
import pytest

from tests.support.emulators import start_auth0, start_graph


@pytest.fixture(scope="session")
def graph_emulator(tmp_path_factory):
    """The Graph/Entra emulator process; spec violations fail the session at the end."""
    emu = start_graph(str(tmp_path_factory.mktemp("graph")))
    yield emu
    found = emu.violations()
    emu.stop()
    assert not found, f"Graph emulator traffic broke the OpenAPI extract: {found[:5]}"


@pytest.fixture(scope="session")
def auth0_emulator(tmp_path_factory):
    """The Auth0 Management API emulator process; spec violations fail the session at the end."""
    emu = start_auth0(str(tmp_path_factory.mktemp("auth0")))
    yield emu
    found = emu.violations()
    emu.stop()
    assert not found, f"Auth0 emulator traffic broke the OpenAPI extract: {found[:5]}"


@pytest.fixture
def graph(graph_emulator):
    """The Graph emulator, reset to the default sandbox for this test."""
    graph_emulator.reset()
    return graph_emulator


@pytest.fixture
def auth0(auth0_emulator):
    """The Auth0 emulator, reset to the default sandbox for this test."""
    auth0_emulator.reset()
    return auth0_emulator


pytest_plugins = ["tests.support.databases"]
