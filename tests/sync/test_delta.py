"""Delta rounds: first round, then only changes, and a full resync when the token has expired."""
from sqlalchemy import select

from service.models import SyncEvent
from service.sync import delta, inbox
from tests.sync.conftest import AUTH0_DB


def _user_events(ctx, after_id=0):
    with ctx.store.session() as session:
        rows = session.scalars(select(SyncEvent).where(SyncEvent.kind == "user", SyncEvent.id > after_id)).all()
    return [(r.object_id, r.detail.get("deleted")) for r in rows]


def _last_id(ctx):
    with ctx.store.session() as session:
        return session.scalar(select(SyncEvent.id).order_by(SyncEvent.id.desc()).limit(1)) or 0


def test_rounds_queue_changed_users_and_an_expired_token_resyncs_everything(world):
    ctx = world.context({"connection": AUTH0_DB})
    first = delta.run_round(ctx, "users")
    assert first >= 1 and inbox.state_get(ctx.store, "delta:users")["delta_link"]
    mark = _last_id(ctx)
    assert delta.run_round(ctx, "users") == 0  # nothing changed
    amy = world.user("amy")
    world.entra.update_user(amy["id"], {"department": "Legal"})
    delta.run_round(ctx, "users")
    assert _user_events(ctx, mark) == [(amy["id"], False)]
    world.graph_emu.http.post(f"{world.graph_emu.url}/_emulator/delta/expire").raise_for_status()
    mark = _last_id(ctx)
    resynced = delta.run_round(ctx, "users")
    assert resynced >= first + 1 and (amy["id"], False) in _user_events(ctx, mark)


def test_group_membership_changes_queue_the_members(world):
    ctx = world.context({"connection": AUTH0_DB})
    ben = world.user("ben")
    group = world.group("Editors")
    delta.run_round(ctx, "groups")
    mark = _last_id(ctx)
    world.join(group, ben)
    delta.run_round(ctx, "groups")
    assert _user_events(ctx, mark) == [(ben["id"], False)]
    mark = _last_id(ctx)
    world.leave(group, ben)
    delta.run_round(ctx, "groups")
    assert _user_events(ctx, mark) == [(ben["id"], False)]


def test_two_writers_of_a_new_state_key_do_not_fail(tmp_path, monkeypatch):
    from sqlalchemy.orm import Session

    from service.db import Store, migrate
    store = Store(f"sqlite:///{tmp_path}/s.db")
    migrate(store.engine)
    inbox.state_set(store, "subscriptions", {"users": "first"})  # the other writer committed first ...
    real_get, missed = Session.get, []

    def get_missing_once(self, entity, key, *args, **kwargs):
        if not missed:  # ... after this one read the key as absent
            missed.append(key)
            return None
        return real_get(self, entity, key, *args, **kwargs)
    monkeypatch.setattr(Session, "get", get_missing_once)
    inbox.state_set(store, "subscriptions", {"users": "second"})
    assert missed == ["subscriptions"] and inbox.state_get(store, "subscriptions") == {"users": "second"}
