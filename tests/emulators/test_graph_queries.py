"""Graph emulator: OData $filter parsing, $select, $top and $skiptoken paging over users."""
from urllib.parse import parse_qs, urlsplit

import pytest

from emulators.graph.errors import GraphError
from emulators.graph.filters import index_plan, parse
from emulators.graph.users import INDEXED
from tests.emulators.test_graph_support import GraphApi, error_code
from tests.support.emulators import SKU_ID

AOIFE = "0a1b2c3d-0000-4000-8000-000000000002"


@pytest.fixture
def api():
    return GraphApi()


def ids(reply):
    assert reply.status_code == 200, reply.json
    return [u["id"] for u in reply.json["value"]]


def users_where(api, expression, **headers):
    return api.get("/users", query_string={"$filter": expression}, headers=headers)


def test_parser_unescapes_doubled_quotes_and_nests():
    assert parse("surname eq 'O''Brien'") == ("cmp", "eq", ("path", ["surname"]), ("lit", "O'Brien"))
    tree = parse("(a eq 1 or b eq 'x') and not startswith(c, 'y')")
    assert tree[0] == "and" and tree[1][0] == "or" and tree[2] == ("not", ("call", "startswith",
                                                                           ("path", ["c"]), ("lit", "y")))
    lam = parse(f"assignedLicenses/any(x:x/skuId eq {SKU_ID})")
    assert lam == ("any", "any", ["assignedLicenses"], "x", ("cmp", "eq", ("path", ["x", "skuId"]), ("lit", SKU_ID)))
    assert parse("id in ('a', 'b')") == ("in", ("path", ["id"]), ["a", "b"])
    for broken in ("surname eq 'unterminated", "surname eq", "(a eq 1", "a eq 1 b"):
        with pytest.raises(GraphError):
            parse(broken)


def test_index_plan_only_when_every_match_is_covered():
    assert index_plan(parse("userPrincipalName eq 'a@b' and startswith(displayName,'x')"), INDEXED) == \
        [("userPrincipalName", ["a@b"])]
    assert index_plan(parse("onPremisesImmutableId eq 'x' or id in ('1','2')"), INDEXED) == \
        [("onPremisesImmutableId", ["x"]), ("id", ["1", "2"])]
    assert index_plan(parse("userPrincipalName eq 'a@b' or surname eq 'x'"), INDEXED) is None


def test_obrien_with_a_doubled_quote_matches_exactly_that_user(api):
    api.create_user("o.brian", surname="O'Brian")
    api.create_user("obrien", surname="OBrien")
    assert ids(users_where(api, "surname eq 'O''Brien'")) == [AOIFE]
    assert ids(users_where(api, "surname eq 'o''brien'")) == [AOIFE]  # directory strings compare case-insensitively
    assert users_where(api, "surname eq 'O'Brien'").status_code == 400


def test_startswith_any_and_or_in(api):
    assert ids(users_where(api, "startswith(displayName,'AOI')")) == [AOIFE]
    assert ids(users_where(api, "otherMails/any(x:x eq 'aoife@example.org')")) == [AOIFE]
    assert ids(users_where(api, "identities/any(c:c/issuerAssignedId eq 'aoife.obrien@contoso.onmicrosoft.com' "
                                "and c/issuer eq 'contoso.onmicrosoft.com')")) == [AOIFE]
    licensed = ids(users_where(api, f"assignedLicenses/any(x:x/skuId eq {SKU_ID})"))
    assert licensed == ["0a1b2c3d-0000-4000-8000-000000000001"]
    both = users_where(api, "(surname eq 'Gu' or surname eq 'Admin') and accountEnabled eq true")
    assert len(ids(both)) == 2
    assert ids(users_where(api, "jobTitle eq 'Engineer' and startswith(givenName,'L')")) == []
    upns = "userPrincipalName in ('lee.gu@contoso.onmicrosoft.com', 'AOIFE.OBRIEN@contoso.onmicrosoft.com')"
    assert sorted(ids(users_where(api, upns))) == [AOIFE, "0a1b2c3d-0000-4000-8000-000000000003"]


def test_advanced_operators_need_consistency_level_and_count(api):
    plain = users_where(api, "surname ne 'Gu'")
    assert plain.status_code == 400 and error_code(plain) == "Request_UnsupportedQuery"
    advanced = api.get("/users", query_string={"$filter": "surname ne 'Gu'", "$count": "true"},
                       headers={"ConsistencyLevel": "eventual"})
    assert advanced.status_code == 200 and advanced.json["@odata.count"] == 2 == len(advanced.json["value"])
    assert error_code(api.get("/users", query_string={"$count": "true"})) == "Request_BadRequest"


@pytest.mark.parametrize("expression, code", [
    ("favourite eq 'x'", "Request_BadRequest"),
    ("contains(displayName,'a')", "Request_UnsupportedQuery"),
    ("otherMails eq 'a@b.com'", "Request_UnsupportedQuery"),
    ("otherMails/all(x:x eq 'a')", "Request_UnsupportedQuery"),
    ("displayName eq surname", "Request_UnsupportedQuery"),
])
def test_unsupported_filters_are_400(api, expression, code):
    reply = users_where(api, expression)
    assert reply.status_code == 400 and error_code(reply) == code


def test_select_default_set_and_validation(api):
    value = api.get("/users").json["value"][0]
    assert set(value) == {"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                          "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}
    chosen = api.get("/users", query_string={"$select": "accountEnabled,assignedLicenses"}).json["value"][0]
    assert set(chosen) == {"id", "accountEnabled", "assignedLicenses"}
    assert api.get("/users", query_string={"$select": "nope"}).status_code == 400
    assert error_code(api.get("/users", query_string={"$orderby": "displayName"})) == "Request_UnsupportedQuery"


@pytest.mark.parametrize("top", ["0", "1000", "ten"])
def test_top_outside_1_to_999_is_400(api, top):
    assert api.get("/users", query_string={"$top": top}).status_code == 400


def _follow(api, first_query):
    """Every id over all pages, following @odata.nextLink."""
    seen, reply = [], api.get("/users", query_string=first_query)
    pages = 0
    while True:
        seen += ids(reply)
        pages += 1
        link = reply.json.get("@odata.nextLink")
        if not link:
            return seen, pages
        parts = urlsplit(link)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert parts.path == "/v1.0/users" and "$skiptoken" in query
        reply = api.get("/users", query_string=query)
        if pages == 1:
            api.create_user("zz.created.while.paging")  # new users must not disturb the walk


def test_paging_2500_users_returns_each_exactly_once(api):
    seeded = api.control("POST", "users/bulk", {"count": 2500, "prefix": "page"})
    assert seeded.status_code == 200 and seeded.json["created"] == 2500
    seen, pages = _follow(api, {"$top": "999", "$select": "id", "$filter": "startswith(userPrincipalName,'page')"})
    assert len(seen) == 2500 == len(set(seen)) and pages == 3
    everyone, _ = _follow(api, {"$top": "999"})
    assert len(everyone) == len(set(everyone)) >= 2503
