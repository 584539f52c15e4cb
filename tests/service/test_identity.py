"""Pure mapping from an Auth0 user to its Entra account: ImmutableID, UPN, names, location."""
import base64

import pytest

from service import identity

NS = "6b0f3c1e-2a7d-5f4e-9c1b-8d2e4f6a7b90"


def test_immutable_id_is_stable_standard_base64_of_16_bytes():
    a = identity.immutable_id("google-oauth2|1", NS)
    assert a == identity.immutable_id("google-oauth2|1", NS)
    assert a != identity.immutable_id("google-oauth2|2", NS)
    assert a != identity.immutable_id("google-oauth2|1", "00000000-0000-4000-8000-000000000000")
    assert len(base64.b64decode(a, validate=True)) == 16


def test_immutable_ids_never_hold_characters_entra_forbids():
    ids = [identity.immutable_id(f"auth0|{n}", NS) for n in range(5000)]
    assert not [i for i in ids if "$" in i or "_" in i or "-" in i]
    assert any("+" in i or "/" in i for i in ids)  # standard, not URL-safe, alphabet


@pytest.mark.parametrize("email,expected_start", [
    ("jane.doe@gmail.com", "jane.doe."),
    ("o'brien@example.com", "o'brien."),
    ("jane+news@example.com", "jane-news."),
    ("zoë.ünïcode@example.com", "zoe.unicode."),
    ('"quoted name"@example.com', "quoted.name."),
])
def test_upn_is_readable_sanitised_and_unique(email, expected_start):
    upn = identity.upn({"user_id": "auth0|abc", "email": email}, "{local}.{hash}", "partners.contoso.com")
    local, domain = upn.split("@")
    assert local.startswith(expected_start) and domain == "partners.contoso.com"
    assert local.endswith(identity.user_hash("auth0|abc"))
    assert all(c.isascii() and (c.isalnum() or c in "'.-_!#^~") for c in local)


def test_long_names_keep_the_hash_and_64_characters():
    user = {"user_id": "auth0|long", "email": "x" * 300 + "@example.com"}
    for variant in (0, 1, 12):
        local = identity.upn_local(user, "{local}.{hash}", variant)
        assert len(local) <= 64 and identity.user_hash("auth0|long") in local


def test_variants_differ_and_missing_email_falls_back():
    user = {"user_id": "auth0|v", "nickname": "Jo Bloggs"}
    names = {identity.upn(user, "{local}.{hash}", "d.com", n) for n in range(5)}
    assert len(names) == 5 and identity.upn(user, "{local}.{hash}", "d.com").startswith("jo.bloggs.")
    assert identity.upn({"user_id": "auth0|n"}, "{local}.{hash}", "d.com").startswith("user.")


def test_connection_placeholder():
    user = {"user_id": "auth0|c", "email": "a@b.com", "connection": "google-oauth2"}
    assert identity.upn_local(user, "{connection}.{local}.{hash}").startswith("google-oauth2.a.")


def test_display_name_order_and_limit():
    assert identity.display_name({"user_id": "u", "name": "  Ada   Lovelace ", "email": "a@b"}) == "Ada Lovelace"
    assert identity.display_name({"user_id": "u", "nickname": "ada", "email": "a@b"}) == "ada"
    assert identity.display_name({"user_id": "u", "email": "a@b"}) == "a@b"
    assert len(identity.display_name({"user_id": "u", "name": "n" * 300})) == 256


def test_usage_location_validates_iso_codes():
    assert identity.usage_location({}, "GB") == "GB"
    assert identity.usage_location({"usage_location": "de"}, "GB") == "DE"
    for bad in ("UK", "Germany", "X1", 49):
        with pytest.raises(identity.InvalidUser) as err:
            identity.usage_location({"usage_location": bad}, "GB")
        assert err.value.field == "usage_location"


def test_password_is_long_random_and_strong():
    a, b = identity.random_password(), identity.random_password()
    assert a != b and len(a) >= 50
    assert any(c.isupper() for c in a) and any(c.isdigit() for c in a) and any(not c.isalnum() for c in a)


@pytest.mark.parametrize("user,field", [
    ({}, "user_id"), ({"user_id": ""}, "user_id"), ({"user_id": "a|1", "email": 5}, "email"),
    ({"user_id": "a|1", "email": "no-at-sign"}, "email"), ({"user_id": "a|1", "name": "n" * 2000}, "name"),
])
def test_validation_names_the_field(user, field):
    with pytest.raises(identity.InvalidUser) as err:
        identity.validate_user(user)
    assert err.value.field == field


def test_new_user_body_is_a_federated_member_without_secrets_elsewhere():
    user = {"user_id": "auth0|b", "email": "b@x.com", "given_name": "B", "family_name": "X"}
    body = identity.new_user_body(user, "b.1@d.com", "iid==", "GB")
    assert body["onPremisesImmutableId"] == "iid==" and body["usageLocation"] == "GB"
    assert body["passwordProfile"]["forceChangePasswordNextSignIn"] is False
    assert (body["givenName"], body["surname"], body["mailNickname"]) == ("B", "X", "b.1")
