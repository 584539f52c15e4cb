"""Tables: the link between an Auth0 user and its Entra object, and the append-only audit log."""
import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def utcnow():
    """Timezone-aware now, the only clock the store uses."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base for the companion's tables."""


class Link(Base):
    """One Auth0 user and the Entra ID account the companion made or adopted for it."""

    __tablename__ = "identity_links"

    auth0_user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    immutable_id: Mapped[str] = mapped_column(String(64), unique=True)
    entra_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    upn: Mapped[str | None] = mapped_column(String(113), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    step: Mapped[str] = mapped_column(String(32), default="new")
    upn_variant: Mapped[int] = mapped_column(Integer, default=0)
    licence_sku: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(64))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Graded deprovisioning and back-provisioning (migration 0003): member (Office 365) or guest (B2B),
    # the grade reached (blocked → unlicensed → deleted), why, since when, and the newest Auth0 event applied.
    account_type: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    deprovision_step: Mapped[str | None] = mapped_column(String(16), index=True)
    deprovision_reason: Mapped[str | None] = mapped_column(String(16))
    deprovisioned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    auth0_event_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Who made the account (migration 0007): `companion` (provisioned here) or `rule` (adopted from Auth0's Rule).
    origin: Mapped[str] = mapped_column(String(16), default="companion", server_default="companion")


class AuditEvent(Base):
    """One thing the companion did or refused to do; rows are only ever added."""

    __tablename__ = "audit_log"
    # A once-only fact (an account created, a licence assigned, a user ready) has a key: one row per fact.
    __table_args__ = (Index("ux_audit_log_fact", "action", "auth0_user_id", "fact", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    auth0_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    entra_object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reference: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    fact: Mapped[str | None] = mapped_column(String(128))


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or delete an audit row."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session, _context, _instances):
    """Keep the audit log append-only at the ORM level (the one writer the service has)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise AuditLogIsAppendOnly("audit rows are append-only")


class SyncEvent(Base):
    """One change to act on (inbox): recorded before it is queued, so a lost job is re-driven."""

    __tablename__ = "sync_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))            # user, group_delta, user_delta, risk, ...
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(32))          # webhook, delta, risk, admin, ...
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")  # queued|done|failed|held
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # Graph notifications: subscription, resource and change type, hashed; held for the de-duplication window
    dedup_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)


class SyncState(Base):
    """Small durable key/value state: delta links, subscription ids, poll checkpoints."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ReconcileRun(Base):
    """One reconciliation run: what it found, what it fixed and what it proposes."""

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    mode: Mapped[str] = mapped_column(String(16))          # dry-run | fix-safe
    status: Mapped[str] = mapped_column(String(24))        # running | done | failed | applied | stopped
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    findings: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A named lock with an expiry, held in the database so it works across replicas."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Auth0EventReceipt(Base):
    """An Auth0 Event Streams event id already recorded: delivery is at least once, so repeats are dropped."""

    __tablename__ = "auth0_event_receipts"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    sync_event_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class RiskRecord(Base):
    """The newest Identity Protection risk acted on per Entra user: one detection, one alert."""

    __tablename__ = "risk_records"

    entra_object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    risk_updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    risk_level: Mapped[str | None] = mapped_column(String(16))
    risk_state: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The Auth0 user the lock-out was applied to; None while no managed Auth0 user existed to block.
    blocked_user_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
