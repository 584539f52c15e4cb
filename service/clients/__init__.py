"""Outbound clients: the only code that talks HTTP to Microsoft Graph/Entra ID and to Auth0."""
from service.clients.auth0 import Auth0Client
from service.clients.graph import GraphClient, item_error, odata_str

__all__ = ["Auth0Client", "GraphClient", "item_error", "odata_str"]
