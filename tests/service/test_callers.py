"""Least privilege: which verified tokens may provision or read which user (property-based)."""
import pytest
from hypothesis import given, settings, strategies as st

from service import callers, tokens

TEXT = st.one_of(st.sampled_from(["provision:office365", "read:office365", "read:users", "portal@clients",
                                  "google-oauth2|alice", "client-credentials", tokens.ACTION_ISSUER]),
                 st.text(max_size=12))
ANY = st.one_of(TEXT, st.none(), st.integers(), st.lists(TEXT, max_size=3), st.booleans())
SCOPE = st.one_of(ANY, st.lists(TEXT).map(" ".join))
CLAIMS = st.fixed_dictionaries({"sub": TEXT}, optional={"gty": ANY, "scope": SCOPE, "permissions": ANY, "iss": ANY})


def _allowed(claims, permission, user_id):
    """The rule as README states it, written independently of the implementation."""
    if claims.get("iss") == tokens.ACTION_ISSUER:
        return claims["sub"] == user_id
    scope = claims.get("scope").split() if isinstance(claims.get("scope"), str) else []
    perms = list(claims.get("permissions")) if isinstance(claims.get("permissions"), list) else []
    granted = permission in scope or permission in perms
    machine = claims.get("gty") == "client-credentials"
    if machine != claims["sub"].endswith("@clients"):
        return False
    return granted and (machine or claims["sub"] == user_id)


@settings(max_examples=400, derandomize=True)
@given(claims=CLAIMS, permission=st.sampled_from([callers.PROVISION, callers.READ]),
       user_id=st.sampled_from(["google-oauth2|alice", "google-oauth2|bob", "portal@clients"]))
def test_authorize_allows_exactly_what_the_rules_say(claims, permission, user_id):
    try:
        callers.authorize(claims, permission, user_id)
        allowed = True
    except callers.Forbidden:
        allowed = False
    assert allowed == _allowed(claims, permission, user_id)


@pytest.mark.parametrize("claims,user_id,ok", [
    ({"sub": "portal@clients", "gty": "client-credentials", "scope": "provision:office365"}, "any|one", True),
    ({"sub": "portal@clients", "gty": "client-credentials", "scope": "read:office365"}, "any|one", False),
    ({"sub": "google-oauth2|alice", "permissions": ["provision:office365"]}, "google-oauth2|alice", True),
    ({"sub": "google-oauth2|alice", "permissions": ["provision:office365"]}, "google-oauth2|bob", False),
    ({"sub": "google-oauth2|alice", "gty": "client-credentials", "scope": "provision:office365"},
     "google-oauth2|alice", False),
    ({"sub": "x@clients", "scope": "provision:office365"}, "x@clients", False),
])
def test_examples_of_the_rules(claims, user_id, ok):
    if ok:
        callers.authorize(claims, callers.PROVISION, user_id)
    else:
        with pytest.raises(callers.Forbidden):
            callers.authorize(claims, callers.PROVISION, user_id)
