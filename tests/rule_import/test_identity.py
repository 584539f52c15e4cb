"""What marks an account as the Rule's: its UPN pattern, its ImmutableID; and the CLI's report names."""
import base64
import uuid

import pytest

from service.__main__ import main
from service.rule_import import identity


def test_the_rules_immutable_id_is_base64_of_a_uuid_string():
    rid = str(uuid.uuid4())
    assert identity.is_uuid_string_id(base64.b64encode(rid.encode()).decode())
    assert not identity.is_uuid_string_id(base64.b64encode(uuid.uuid4().bytes).decode())  # the companion's kind
    assert not identity.is_uuid_string_id(base64.b64encode(b"x" * 36).decode())  # 48 characters, not a UUID


def test_upn_pattern_is_configurable_and_case_insensitive():
    rid = str(uuid.uuid4())
    default = identity.upn_matcher("auth0-{uuid}@{domain}", ("partners.contoso.com",))
    assert default.match(f"AUTH0-{rid.upper()}@Partners.Contoso.com")
    assert not default.match(f"auth0-{rid}@other.example.com")
    custom = identity.upn_matcher("o365.{uuid}@partners.contoso.com", ())
    assert custom.match(f"o365.{rid}@partners.contoso.com") and not custom.match(f"auth0-{rid}@partners.contoso.com")


def test_rule_keys_and_deleted_upns():
    assert identity.rule_keys({"entra": {}}) is None
    assert identity.rule_keys({"office365UPN": "a@b.c", "office365ImmutableId": "x"}) == ("a@b.c", "x")
    oid = str(uuid.uuid4())
    assert identity.deleted_upn(oid, oid.replace("-", "") + "a@b.c") == "a@b.c"


def test_report_file_must_be_json_csv_or_html():
    with pytest.raises(SystemExit) as stop:
        main(["rule-import", "--report", "findings.txt"])
    assert "name a .json, .csv or .html file" in str(stop.value)


def test_rule_settings_name_the_variable_and_the_fix():
    from service.settings import ConfigError, from_env
    from tests.service.test_settings import GOOD
    s = from_env(GOOD)
    assert (s.rule_upn_pattern, s.rule_domains) == ("auth0-{uuid}@{domain}", ())
    assert from_env({**GOOD, "RULE_DOMAINS": "A.example.com, b.example.com"}).rule_domains == (
        "a.example.com", "b.example.com")
    with pytest.raises(ConfigError) as err:
        from_env({**GOOD, "RULE_UPN_PATTERN": "auth0-{id}@{domain}", "RULE_DOMAINS": "not a domain"})
    assert [p.split(" ")[0] for p in err.value.problems] == ["RULE_UPN_PATTERN", "RULE_DOMAINS"]


def test_a_configuration_error_is_one_line_per_problem_without_a_traceback(monkeypatch):
    for name in ("AUTH0_DOMAIN", "O365_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as stop:
        main(["rule-import"])
    assert "AUTH0_DOMAIN is not set" in str(stop.value) and "Traceback" not in str(stop.value)
