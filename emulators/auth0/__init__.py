"""Local emulator of the Auth0 Management API v2 and the tenant's client-credentials token endpoint."""
from emulators.auth0.app import Auth0Emulator, create_app
from emulators.auth0.config import Auth0Config

__all__ = ["Auth0Config", "Auth0Emulator", "create_app"]
