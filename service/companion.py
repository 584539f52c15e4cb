"""The process-wide objects the views use, built once from Settings."""
import dataclasses

from service import jobs
from service.clients.auth0 import Auth0Client
from service.clients.graph import GraphClient
from service.db import Store
from service.driver import Driver
from service.jwks import Jwks
from service.provisioning import Provisioner


@dataclasses.dataclass
class Companion:
    """Settings, store and clients shared by every request of one process."""

    settings: object
    store: Store
    graph: GraphClient
    auth0: Auth0Client
    provisioner: Provisioner
    queue: object = None
    jwks: object = None
    driver: Driver = None

    @classmethod
    def build(cls, settings):
        """Wire the long-lived objects (one msal app, one HTTP session per vendor)."""
        store = Store(settings.database_url)
        graph = GraphClient.from_settings(settings)
        auth0 = Auth0Client.from_settings(settings)
        queue = jobs.make_queue(settings.queue_url)
        jobs.register(queue)
        jwks = Jwks(auth0.jwks) if settings.companion_api_audience else None
        provisioner = Provisioner(settings, store, graph)
        return cls(settings=settings, store=store, graph=graph, auth0=auth0, provisioner=provisioner,
                   queue=queue, jwks=jwks, driver=Driver(provisioner, settings))
