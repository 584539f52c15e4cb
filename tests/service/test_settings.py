"""Settings: every missing or malformed variable is named once, and secrets are never echoed."""
import pytest

from service.settings import ConfigError, from_env

GOOD = {
    "AUTH0_DOMAIN": "acme.eu.auth0.com", "AUTH0_CLIENT_ID": "m2m", "AUTH0_CLIENT_SECRET": "auth0-secret-value",
    "ENTRA_TENANT_ID": "8d2b6f3e-1c4a-4e5b-9f7a-0c1d2e3f4a5b",
    "ENTRA_CLIENT_ID": "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "ENTRA_CLIENT_SECRET": "entra-secret-value",
    "COMPANION_SECRET": "c" * 40, "COMPANION_PUBLIC_URL": "https://companion.acme.com",
    "O365_DOMAIN": "partners.acme.com", "O365_LICENSE_SKU": "ENTERPRISEPACK", "O365_USAGE_LOCATION": "GB",
}
REQUIRED = ["AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "ENTRA_TENANT_ID", "ENTRA_CLIENT_ID",
            "ENTRA_CLIENT_SECRET", "COMPANION_SECRET", "COMPANION_PUBLIC_URL", "O365_DOMAIN",
            "O365_LICENSE_SKU", "O365_USAGE_LOCATION"]


def test_good_environment_gives_frozen_settings_with_defaults():
    s = from_env(GOOD)
    assert s.auth0_api_base_url == "https://acme.eu.auth0.com"
    assert s.graph_base_url == "https://graph.microsoft.com"
    assert s.entra_authority_host == "https://login.microsoftonline.com"
    assert s.database_url == "sqlite:///var/companion.db"
    with pytest.raises(AttributeError):
        s.o365_domain = "other.com"


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_variable_is_named(name):
    env = {k: v for k, v in GOOD.items() if k != name}
    with pytest.raises(ConfigError) as err:
        from_env(env)
    assert [p for p in err.value.problems if p.startswith(name)], err.value.problems
    assert len(err.value.problems) == 1


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as err:
        from_env({})
    assert len(err.value.problems) == len(REQUIRED)


@pytest.mark.parametrize("name,value,hint", [
    ("AUTH0_DOMAIN", "https://acme.auth0.com/", "bare host name"),
    ("ENTRA_TENANT_ID", "not-a-guid", "GUID"),
    ("COMPANION_PUBLIC_URL", "companion.acme.com", "absolute"),
    ("O365_USAGE_LOCATION", "UK", "ISO 3166-1 alpha-2"),
    ("O365_USAGE_LOCATION", "gb", "capitals"),
    ("COMPANION_SECRET", "short-secret", "at least 32"),
    ("HTTP_TIMEOUT_S", "ten", "number"),
    ("O365_UPN_TEMPLATE", "{local}", "{hash}"),
    ("GRAPH_BASE_URL", "http://graph.microsoft.com", "https"),
    ("DRY_RUN", "maybe", "true or false"),
    ("QUEUE_URL", "amqp://x", "redis://host:6379/0"),
    ("QUEUE_URL", "var/queue.db", "sqlite:///"),
    ("DATABASE_URL", "mysql://x", "postgresql://"),
    ("DATABASE_URL", "sqlite:var/x.db", "sqlite:///"),
    ("LOG_LEVEL", "verbose", "DEBUG, INFO"),
    ("O365_SEATS_LOW_WATER", "-1", "whole number"),
    ("O365_SEATS_LOW_WATER", "2.5", "whole number"),
    ("SEAT_CHECK_INTERVAL_S", "soon", "number"),
    ("GRAPH_NOTIFICATION_DEDUP_S", "soon", "number"),
    ("GRAPH_NOTIFICATION_DEDUP_S", "-1", "≥ 0"),
])
def test_malformed_values_are_named_with_the_expected_form(name, value, hint):
    with pytest.raises(ConfigError) as err:
        from_env({**GOOD, name: value})
    (problem,) = err.value.problems
    assert problem.startswith(f"{name} is malformed") and hint in problem


def test_a_certificate_can_replace_the_client_secret(tmp_path):
    pem = tmp_path / "app.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\n")
    env = {k: v for k, v in GOOD.items() if k != "ENTRA_CLIENT_SECRET"}
    s = from_env({**env, "ENTRA_CERT_PATH": str(pem), "ENTRA_CERT_THUMBPRINT": "AB" * 20})
    assert s.entra_client_secret is None and s.entra_cert_path == str(pem)


def test_secret_values_never_appear_in_the_error():
    env = {**GOOD, "COMPANION_SECRET": "tooshort-secret-xyz", "AUTH0_DOMAIN": ""}
    with pytest.raises(ConfigError) as err:
        from_env(env)
    assert "tooshort-secret-xyz" not in str(err.value)


@pytest.mark.parametrize("value,expected", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                            ("false", False), ("0", False), ("no", False), ("Off", False)])
def test_booleans_read_only_clear_words(value, expected):
    assert from_env({**GOOD, "DRY_RUN": value}).dry_run is expected


@pytest.mark.parametrize("name,value", [
    ("DATABASE_URL", "postgresql://companion:pw@db:5432/companion"), ("DATABASE_URL", "postgres://u@h/d"),
    ("DATABASE_URL", "sqlite:///var/x.db"), ("QUEUE_URL", "redis://redis:6379/0"),
    ("QUEUE_URL", "rediss://r:6380/1"), ("QUEUE_URL", "sqlite:////abs/queue.db"),
])
def test_known_storage_schemes_are_accepted(name, value):
    assert getattr(from_env({**GOOD, name: value}), name.lower()) == value


def test_a_storage_url_is_never_echoed_because_it_may_hold_a_password():
    with pytest.raises(ConfigError) as err:
        from_env({**GOOD, "DATABASE_URL": "mysql://admin:hunter2-password@db/x"})
    assert "hunter2-password" not in str(err.value)
