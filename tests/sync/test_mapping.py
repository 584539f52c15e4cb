"""Pure sync mapping: scope, many-to-many roles, profile attributes, policies, and the config file."""
import os
import time

import pytest

from service.sync import mapping
from service.sync.config import ConfigFile, SyncConfigError, parse

CONFIG = parse({
    "scope": {"groups": ["g-staff", "g-partners"]},
    "roles": {"g-staff": ["Staff", "SharePoint Editors"], "g-editors": ["SharePoint Editors"],
              "g-admins": ["Partner Admin"]},
    "profile": {"namespace": "entra", "attributes": {"department": "department", "title": "jobTitle",
                                                     "manager": "manager"}},
    "policies": {"g-admins": {"mfa": "required"}, "g-partners": {"allowed_connections": ["partner-saml"]}},
})


def test_scope_by_group_and_everyone_without_scope():
    assert mapping.in_scope(["g-staff"], CONFIG) and not mapping.in_scope(["g-other"], CONFIG)
    assert mapping.in_scope([], parse({}))


def test_roles_are_many_to_many_and_only_managed_ones_change():
    assert mapping.desired_roles(["g-staff", "g-editors"], CONFIG) == {"Staff", "SharePoint Editors"}
    add, remove = mapping.role_changes(["Staff", "Hand-made Role"], ["g-editors", "g-admins"], CONFIG)
    assert add == ["Partner Admin", "SharePoint Editors"] and remove == ["Staff"]
    # leaving g-editors keeps SharePoint Editors while g-staff still grants it
    assert mapping.role_changes(["Staff", "SharePoint Editors"], ["g-staff"], CONFIG) == ([], [])


def test_profile_follows_the_attribute_mapping():
    user = {"id": "o1", "department": "Sales", "jobTitle": "Rep", "mobilePhone": "+44 1", "officeLocation": ""}
    assert mapping.profile(user, "boss@x.com", CONFIG) == {"department": "Sales", "title": "Rep",
                                                            "manager": "boss@x.com"}
    record = mapping.namespace_record({"blocked_by_companion": True, "stale": 1}, user, None, CONFIG)
    assert record["object_id"] == "o1" and record["managed"] and record["blocked_by_companion"]
    assert "stale" not in record


def test_policy_merges_groups():
    assert mapping.policy(["g-admins", "g-partners"], CONFIG) == {"mfa": "required",
                                                                  "allowed_connections": ["partner-saml"]}
    assert mapping.policy(["g-staff"], CONFIG) is None


@pytest.mark.parametrize("doc,key", [
    ({"rolez": {}}, "rolez"), ({"roles": {"g": "Staff"}}, None), ({"roles": {"g": [1]}}, "roles.g"),
    ({"profile": {"attributes": {"x": "password"}}}, "password"),
    ({"policies": {"g": {"mfa": "sometimes"}}}, "policies.g.mfa"),
    ({"deprovision": {"threshold": -1}}, "deprovision.threshold"), ({"risk": {"level": "extreme"}}, "risk.level"),
])
def test_bad_config_names_the_key(doc, key):
    if key is None:
        assert parse(doc).roles == {"g": ("Staff",)}  # a single name is accepted as a list of one
        return
    with pytest.raises(SyncConfigError, match=key.replace(".", r"\.")):
        parse(doc)


def test_config_file_is_reloaded_when_it_changes_and_a_broken_edit_keeps_the_last_good(tmp_path):
    path = tmp_path / "sync.yaml"
    path.write_text("roles:\n  g1: [Staff]\n")
    cfg = ConfigFile(str(path))
    assert cfg.get().roles == {"g1": ("Staff",)}
    path.write_text("roles:\n  g1: [Staff, Partner Admin]\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert cfg.get().roles == {"g1": ("Staff", "Partner Admin")}
    path.write_text("roles: [oops")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    assert cfg.get().roles == {"g1": ("Staff", "Partner Admin")}
    with pytest.raises(SyncConfigError, match="not valid YAML"):
        ConfigFile(str(path)).get()  # a first read has nothing to fall back on
