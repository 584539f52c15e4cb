"""Adoption writes on both databases: many links in one statement, clashes skipped one by one, audited."""
from service import audit, links
from service.db import Store, migrate
from service.models import AuditEvent


def _row(n, **over):
    return {"auth0_user_id": f"auth0|r{n}", "entra_object_id": f"oid-{n}", "upn": f"auth0-{n}@partners.contoso.com",
            "immutable_id": f"iid-{n}", "licence_sku": "ENTERPRISEPACK", **over}


def test_adopt_links_many_and_skips_what_clashes(database_url):
    store = Store(database_url)
    migrate(store.engine)
    assert links.adopt(store, [_row(1), _row(2)]) == ["auth0|r1", "auth0|r2"]
    again = links.adopt(store, [_row(2), _row(3), _row(4, immutable_id="iid-1")])  # r2 linked; r4's id taken
    assert again == ["auth0|r3"]
    link = links.get(store, "auth0|r3")
    assert (link.state, link.step, link.origin, link.account_type, link.deprovision_step) == (
        "ready", "done", "rule", "member", None)
    assert link.ready_at is not None and links.get(store, "auth0|r4") is None
    with store.session() as session:
        audit.record_many(session, [("link.adopted", "ok", "auth0|r3", "oid-3", {"origin": "rule"})], "ref-1")
    with store.session() as session:
        row = session.query(AuditEvent).filter_by(auth0_user_id="auth0|r3").one()
        assert (row.action, row.reference, row.detail) == ("link.adopted", "ref-1", {"origin": "rule"})
    store.dispose()
