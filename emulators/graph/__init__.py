"""Microsoft Graph v1.0 + Entra token endpoint emulator (`python -m emulators.graph`, or WSGI via create_app)."""
from emulators.graph.config import GraphConfig


def create_app(config=None):
    """The WSGI app for a GraphConfig (defaults: the documented sandbox)."""
    from emulators.graph.app import GraphApp
    return GraphApp(config or GraphConfig())


__all__ = ["GraphConfig", "create_app"]
