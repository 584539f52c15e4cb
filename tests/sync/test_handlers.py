"""sync_user against both emulators: create, offboard, re-enable, roles, profile, policy, safety."""
import threading
from concurrent.futures import ThreadPoolExecutor

from service.sync import handlers, who
from tests.sync.conftest import AUTH0_DB


def _mapping(**over):
    base = {"connection": AUTH0_DB, "profile": {"namespace": "entra"}}
    base.update(over)
    return base


def _the_auth0_user(world, entra_user):
    (user,) = world.auth0_users(entra_user["mail"])
    return user


def test_new_entra_user_gets_an_auth0_user_with_profile_roles_and_policy(world):
    alice = world.user("alice", department="Sales", jobTitle="Rep", employeeId="E1")
    staff = world.group("Staff", alice)
    admins = world.group("Admins", alice)
    ctx = world.context(_mapping(roles={staff["id"]: ["Staff", "SharePoint Editors"], admins["id"]: ["Partner Admin"]},
                                 policies={admins["id"]: {"mfa": "required"}}))
    assert handlers.sync_user(ctx, alice["id"], {}) == "synced"
    user = _the_auth0_user(world, alice)
    meta = user["app_metadata"]["entra"]
    assert (meta["department"], meta["jobTitle"], meta["employeeId"], meta["object_id"]) == (
        "Sales", "Rep", "E1", alice["id"])
    assert user["app_metadata"]["entra_policy"] == {"mfa": "required"}
    roles = sorted(r["name"] for r in ctx.auth0.user_roles(user["user_id"]))
    assert roles == ["Partner Admin", "SharePoint Editors", "Staff"]
    assert world.audit(ctx, "auth0.user.created")[0].detail["password_ticket"] is True
    # a second run changes nothing
    before = len(world.audit(ctx))
    assert handlers.sync_user(ctx, alice["id"], {}) == "synced"
    assert len(world.audit(ctx)) == before


def test_disabled_in_entra_blocks_and_revokes_then_re_enabling_lifts_only_our_block(world):
    bob = world.user("bob")
    ctx = world.context(_mapping())
    handlers.sync_user(ctx, bob["id"], {})
    world.entra.update_user(bob["id"], {"accountEnabled": False})
    assert handlers.sync_user(ctx, bob["id"], {}) == "blocked"
    user = _the_auth0_user(world, bob)
    assert user["blocked"] is True and user["app_metadata"]["entra"]["blocked_by_companion"] is True
    covered = [c for r in world.auth0_emu.state()["revocations"] if r["user_id"] == user["user_id"] for c in r["covers"]]
    assert sorted(covered) == ["refresh_tokens", "sessions"]
    world.entra.update_user(bob["id"], {"accountEnabled": True})
    assert handlers.sync_user(ctx, bob["id"], {}) == "synced"
    assert _the_auth0_user(world, bob)["blocked"] is False


def test_a_block_set_by_someone_else_is_not_lifted(world):
    carol = world.user("carol")
    ctx = world.context(_mapping())
    handlers.sync_user(ctx, carol["id"], {})
    uid = _the_auth0_user(world, carol)["user_id"]
    ctx.auth0.update_user(uid, {"blocked": True})  # an admin's own block
    handlers.sync_user(ctx, carol["id"], {})
    assert _the_auth0_user(world, carol)["blocked"] is True


def test_group_changes_move_only_managed_roles(world):
    dan = world.user("dan")
    staff, editors = world.group("Staff", dan), world.group("Editors")
    ctx = world.context(_mapping(roles={staff["id"]: ["Staff"], editors["id"]: ["SharePoint Editors"]}))
    handlers.sync_user(ctx, dan["id"], {})
    uid = _the_auth0_user(world, dan)["user_id"]
    manual = [r["id"] for r in ctx.auth0.list_roles() if r["name"] == "Partner Admin"]
    ctx.auth0.assign_roles(uid, manual)  # given by hand; the mapping does not manage it
    world.leave(staff, dan)
    world.join(editors, dan)
    handlers.sync_user(ctx, dan["id"], {})
    names = sorted(r["name"] for r in ctx.auth0.user_roles(uid))
    assert names == ["Partner Admin", "SharePoint Editors"]


def test_profile_change_lands_in_app_metadata(world):
    erin = world.user("erin", department="Ops")
    ctx = world.context(_mapping())
    handlers.sync_user(ctx, erin["id"], {})
    world.entra.update_user(erin["id"], {"department": "Finance", "officeLocation": "Leeds"})
    handlers.sync_user(ctx, erin["id"], {})
    meta = _the_auth0_user(world, erin)["app_metadata"]["entra"]
    assert (meta["department"], meta["officeLocation"]) == ("Finance", "Leeds")


def test_users_the_companion_does_not_manage_are_never_changed(world):
    frank = world.user("frank")
    world.seed_auth0(email=frank["mail"], email_verified=False, connection=AUTH0_DB, password="Sandbox-pass-123!")
    ctx = world.context(_mapping(create_users=False, link_by_verified_email=True))
    assert handlers.sync_user(ctx, frank["id"], {}) == "not-managed"  # unverified email: no link
    world.entra.update_user(frank["id"], {"accountEnabled": False})
    assert handlers.sync_user(ctx, frank["id"], {}) == "not-managed"
    assert _the_auth0_user(world, frank).get("blocked") in (None, False)


def test_verified_email_links_and_two_candidates_are_reported_not_guessed(world):
    gina = world.user("gina")
    world.seed_auth0(email=gina["mail"], email_verified=True, connection=AUTH0_DB, password="Sandbox-pass-123!")
    ctx = world.context(_mapping(create_users=False, link_by_verified_email=True))
    assert handlers.sync_user(ctx, gina["id"], {}) == "synced"
    assert world.audit(ctx, "auth0.user.linked")
    hank = world.user("hank")
    for connection in (AUTH0_DB, "google-oauth2"):
        world.seed_auth0(email=hank["mail"], email_verified=True, connection=connection,
                         **({"password": "Sandbox-pass-123!"} if connection == AUTH0_DB else {}))
    assert handlers.sync_user(ctx, hank["id"], {}) == "ambiguous"
    assert world.audit(ctx, "identity.ambiguous")


def test_dry_run_changes_nothing_and_says_what_it_would_do(world):
    ivy = world.user("ivy")
    ctx = world.context(_mapping(), DRY_RUN="true")
    handlers.sync_user(ctx, ivy["id"], {})
    assert world.auth0_users(ivy["mail"]) == []
    (row,) = world.audit(ctx, "auth0.user.created")
    assert row.outcome == "dry-run"


def test_the_threshold_stops_mass_blocking(world):
    people = [world.user(f"mass{n}") for n in range(3)]
    ctx = world.context(_mapping(deprovision={"threshold": 2}))
    for p in people:
        handlers.sync_user(ctx, p["id"], {})
        world.entra.update_user(p["id"], {"accountEnabled": False})
    outcomes = []
    from service.sync.effects import ThresholdReached
    for p in people:
        try:
            outcomes.append(handlers.sync_user(ctx, p["id"], {}))
        except ThresholdReached:
            outcomes.append("held")
    assert outcomes == ["blocked", "blocked", "held"]
    assert handlers.sync_user(ctx, people[2]["id"], {"approved": True}) == "blocked"


def test_soft_deleted_in_entra_blocks(world):
    jo = world.user("jo")
    ctx = world.context(_mapping())
    handlers.sync_user(ctx, jo["id"], {})
    world.entra.delete_user(jo["id"])  # soft delete: restorable for 30 days
    assert handlers.sync_user(ctx, jo["id"], {}) == "blocked"
    assert _the_auth0_user(world, jo)["blocked"] is True


def test_escalation_deletes_after_the_grace_period_only(world):
    import datetime as dt
    from service.sync import escalate
    kim, lee = world.user("kim"), world.user("lee")
    ctx = world.context(_mapping(deprovision={"delete_after_days": 30}))
    for p in (kim, lee):
        handlers.sync_user(ctx, p["id"], {})
        world.entra.update_user(p["id"], {"accountEnabled": False})
        handlers.sync_user(ctx, p["id"], {})
    world.entra.update_user(lee["id"], {"accountEnabled": True})  # re-enabled, not yet synced back
    now = dt.datetime.now(dt.timezone.utc)
    escalate.run(ctx, None, {}, now=now + dt.timedelta(days=29))
    assert world.auth0_users(kim["mail"]) and world.auth0_users(lee["mail"])
    escalate.run(ctx, None, {}, now=now + dt.timedelta(days=31))
    assert world.auth0_users(kim["mail"]) == []
    assert world.auth0_users(lee["mail"])  # Entra says enabled again: kept
    assert world.audit(ctx, "auth0.user.deleted")[0].entra_object_id == kim["id"]


def test_leaving_the_scope_blocks_sync_owned_users_but_never_office365_accounts(world):
    from service.provisioning import Provisioner
    scope = world.group("Scope")
    mia = world.user("mia")
    world.join(scope, mia)
    ctx = world.context(_mapping(scope={"groups": [scope["id"]]}))
    assert handlers.sync_user(ctx, mia["id"], {}) == "synced"
    world.leave(scope, mia)
    assert handlers.sync_user(ctx, mia["id"], {}) == "blocked"
    world.seed_auth0(user_id="auth0|o365scope", email="o365scope@example.com", email_verified=True,
                     connection=AUTH0_DB, password="Sandbox-pass-123!")
    done = Provisioner(ctx.settings, ctx.store, ctx.graph).ensure(
        {"user_id": "auth0|o365scope", "email": "o365scope@example.com"}, wait_s=5)
    ctx.auth0.update_user("auth0|o365scope", {"app_metadata": {"entra_companion": {"upn": done.upn}}})
    assert handlers.sync_user(ctx, done.object_id, {}) == "out-of-scope"
    assert not world.auth0_users("o365scope@example.com")[0].get("blocked")


def _auth0_calls(world):
    return dict(world.auth0_emu.stats()["requests"])


def _since(world, before):
    after = _auth0_calls(world)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def test_a_disable_costs_one_auth0_read_and_two_writes(world):
    """Drain rate at the Auth0 tier's limit is calls per change: a user known by its external id is
    found by one search, then blocked, and its sessions and refresh tokens revoked in one call."""
    kim = world.user("kim")
    ctx = world.context(_mapping())
    handlers.sync_user(ctx, kim["id"], {})
    world.entra.update_user(kim["id"], {"accountEnabled": False})
    before, graph_before = _auth0_calls(world), world.graph_emu.stats()["requests"]
    assert handlers.sync_user(ctx, kim["id"], {}) == "blocked"
    graph_after = world.graph_emu.stats()["requests"]
    assert {k: v - graph_before.get(k, 0) for k, v in graph_after.items() if v != graph_before.get(k, 0)} == {
        "GET /v1.0/users/{id}": 1}  # groups and manager do not matter to a disabled user
    assert _since(world, before) == {"GET /api/v2/users": 1, "PATCH /api/v2/users/{id}": 1,
                                     "POST /api/v2/users/{id}/revoke-access": 1}


def _at_once(people, work):
    """Run work(person) for everyone at the same moment; results (or the exception raised) in order."""
    barrier = threading.Barrier(len(people))

    def one(person):
        barrier.wait()
        try:
            return work(person)
        except Exception as err:  # noqa: BLE001 (the test inspects it)
            return err
    with ThreadPoolExecutor(len(people)) as pool:
        return list(pool.map(one, people))


def test_changes_worked_at_once_share_one_search_and_each_acts_on_its_own_user(world):
    """Disables in flight together look their users up in one search (drain at the tier's limit is
    calls per change); a user in the same search that is still enabled is left alone."""
    people = [world.user(f"p{i}") for i in range(8)]
    ctx = world.context(_mapping())
    for i, person in enumerate(people):
        handlers.sync_user(ctx, person["id"], {})
        if i:  # people[0] stays enabled
            world.entra.update_user(person["id"], {"accountEnabled": False})
    world.auth0_emu.configure(latency_ms=150)  # a search is still out when the others arrive
    before = _auth0_calls(world)
    results = _at_once(people, lambda person: handlers.sync_user(ctx, person["id"], {}))
    assert results == ["synced"] + ["blocked"] * 7
    calls = _since(world, before)
    assert calls["GET /api/v2/users"] <= 3, calls  # 8 without sharing
    assert calls["PATCH /api/v2/users/{id}"] == 7 and calls["POST /api/v2/users/{id}/revoke-access"] == 7
    assert [bool(_the_auth0_user(world, p).get("blocked")) for p in people] == [False] + [True] * 7


def test_a_shared_search_that_fails_fails_every_look_up_in_it_and_none_waits_forever(world):
    people = [world.user(f"q{i}") for i in range(5)]
    ctx = world.context(_mapping())
    world.auth0_emu.configure(latency_ms=150)
    world.auth0_emu.add_faults({"kind": "status", "status": 400, "count": 100, "method": "GET",
                                "path": "^/api/v2/users$"})
    config = ctx.config()
    results = _at_once(people, lambda p: who.resolve(ctx.auth0, ctx.store, config, p["id"]))
    assert all(isinstance(r, Exception) for r in results), results  # and all returned: nobody hangs
    assert len({type(r) for r in results}) == 1, results  # the search's own error, told to each


def test_an_id_with_a_quote_in_it_cannot_widen_the_search_the_others_share(world):
    kim, lou = world.user("kim"), world.user("lou")
    ctx = world.context(_mapping())
    for person in (kim, lou):
        handlers.sync_user(ctx, person["id"], {})
    batch = who._Batch()
    batch.oids = ['a" OR email:* OR user_id:"b', kim["id"]]  # unescaped, the first matches every user
    who.SharedSearch()._search(ctx.auth0, "entra", ("test",), batch)
    assert batch.error is None
    assert [u["app_metadata"]["entra"]["object_id"] for u in batch.users] == [kim["id"]]


def _waad_user(world, entra_user):
    return world.seed_auth0(user_id=f"waad|{entra_user['id']}", connection="contoso-entra",
                            email=entra_user["mail"], email_verified=True)["users"][0]


def test_enterprise_connection_users_are_found_by_user_id_even_before_search_shows_them(world):
    lee, max_ = world.user("lee"), world.user("max")
    ctx = world.context(_mapping(create_users=False, managed_connections=["contoso-entra"]))
    indexed = _waad_user(world, lee)
    for person in (lee, max_):
        world.entra.update_user(person["id"], {"accountEnabled": False})
    assert handlers.sync_user(ctx, lee["id"], {}) == "blocked"  # found by the search, re-read by id
    world.auth0_emu.configure(search_lag_s=60)
    fresh = _waad_user(world, max_)  # signed in through the connection a moment ago: not searchable yet
    assert handlers.sync_user(ctx, max_["id"], {}) == "blocked"
    users = {u["user_id"]: u for u in world.auth0_users()}
    assert users[indexed["user_id"]]["blocked"] and users[fresh["user_id"]]["blocked"]


def test_an_enterprise_user_and_an_external_id_for_one_object_are_reported_not_guessed(world):
    ned = world.user("ned")
    ctx = world.context(_mapping(managed_connections=["contoso-entra"]))
    handlers.sync_user(ctx, ned["id"], {})  # a database user carrying ned's object id
    _waad_user(world, ned)
    world.entra.update_user(ned["id"], {"accountEnabled": False})
    assert handlers.sync_user(ctx, ned["id"], {}) == "ambiguous"
    assert not any(u.get("blocked") for u in world.auth0_users())
