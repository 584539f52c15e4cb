"""Reconciliation tests reuse the sync world (both emulators, admin clients, mapping files)."""
from tests.sync.conftest import World, world  # noqa: F401
