"""Lifecycle sync from Entra ID to Auth0: events in, durable jobs, idempotent handlers."""
