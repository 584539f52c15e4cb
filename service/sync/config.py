"""The sync mapping file (YAML): scope, group → roles, profile attributes, policies; reloaded on change."""
import dataclasses
import logging
import os
import threading
from urllib.parse import urlparse

import yaml

log = logging.getLogger("companion.sync.config")
DEFAULT_ATTRIBUTES = {
    "department": "department", "jobTitle": "jobTitle", "officeLocation": "officeLocation",
    "businessPhones": "businessPhones", "mobilePhone": "mobilePhone", "employeeId": "employeeId",
    "manager": "manager", "displayName": "displayName",
}
GRAPH_USER_FIELDS = {"department", "jobTitle", "officeLocation", "businessPhones", "mobilePhone", "employeeId",
                     "manager", "displayName", "givenName", "surname", "mail", "companyName", "city", "country",
                     "employeeType", "preferredLanguage", "userPrincipalName", "usageLocation", "state",
                     "postalCode", "streetAddress", "faxNumber", "otherMails"}


class SyncConfigError(ValueError):
    """The mapping file is wrong; the message names the key and the fix."""


@dataclasses.dataclass(frozen=True)
class SyncConfig:
    """What the sync does, read from SYNC_CONFIG (all parts optional)."""

    scope_groups: tuple = ()
    connection: str | None = None
    link_by_verified_email: bool = False
    create_users: bool = True
    roles: dict = dataclasses.field(default_factory=dict)         # group id → (role name, ...)
    namespace: str = "entra"
    attributes: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))
    policies: dict = dataclasses.field(default_factory=dict)      # group id → {mfa, allowed_connections}
    managed_connections: tuple = ()
    delete_after_days: float | None = None
    threshold: int = 500
    risk_level: str = "high"
    back_provision_connections: tuple = ()   # Auth0 connections whose new users get an Entra account
    back_provision_mode: str = "member"      # member (federated Office 365 account) or guest (B2B invitation)
    invite_redirect_url: str | None = None
    send_invitation: bool = False

    @property
    def managed_roles(self):
        """Every role name the mapping grants: the only roles the sync ever adds or removes."""
        return frozenset(r for roles in self.roles.values() for r in roles)


def _strings(value, key):
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SyncConfigError(f"{key} must be a list of strings")
    return tuple(value)


def _roles(raw):
    if not isinstance(raw, dict):
        raise SyncConfigError("roles must map an Entra group id to a list of Auth0 role names")
    return {str(group): _strings(names, f"roles.{group}") for group, names in raw.items()}


def _attributes(raw):
    if raw is None:
        return dict(DEFAULT_ATTRIBUTES)
    if not isinstance(raw, dict):
        raise SyncConfigError("profile.attributes must map app_metadata keys to Graph user properties")
    unknown = sorted(v for v in raw.values() if v not in GRAPH_USER_FIELDS)
    if unknown:
        raise SyncConfigError(f"profile.attributes names {unknown[0]!r}, not a Graph user property we read; "
                              f"use one of {', '.join(sorted(GRAPH_USER_FIELDS))}")
    return dict(raw)


def _policies(raw):
    if not isinstance(raw, dict):
        raise SyncConfigError("policies must map an Entra group id to {mfa, allowed_connections}")
    out = {}
    for group, policy in raw.items():
        if not isinstance(policy, dict) or set(policy) - {"mfa", "allowed_connections"}:
            raise SyncConfigError(f"policies.{group} may only hold mfa and allowed_connections")
        if policy.get("mfa", "none") not in ("required", "none"):
            raise SyncConfigError(f"policies.{group}.mfa must be 'required' or 'none'")
        out[str(group)] = {"mfa": policy.get("mfa", "none"),
                           "allowed_connections": _strings(policy.get("allowed_connections"),
                                                           f"policies.{group}.allowed_connections")}
    return out


def _back_provision(raw):
    """The back_provision section: {connections, mode: member|guest, invite_redirect_url, send_invitation}."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - {"connections", "mode", "invite_redirect_url", "send_invitation"}:
        raise SyncConfigError("back_provision may only hold connections, mode, invite_redirect_url and "
                              "send_invitation")
    mode = raw.get("mode", "member")
    if mode not in ("member", "guest"):
        raise SyncConfigError("back_provision.mode must be 'member' or 'guest'")
    url = raw.get("invite_redirect_url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if url is not None and not (parsed and parsed.scheme == "https" and parsed.netloc):
        raise SyncConfigError("back_provision.invite_redirect_url must be an absolute https URL, "
                              "e.g. https://myapps.microsoft.com")
    if mode == "guest" and url is None:
        raise SyncConfigError("back_provision.invite_redirect_url is needed with mode: guest (where a guest "
                              "lands after redeeming the invitation)")
    return dict(back_provision_connections=_strings(raw.get("connections"), "back_provision.connections"),
                back_provision_mode=mode, invite_redirect_url=url,
                send_invitation=bool(raw.get("send_invitation", False)))


def parse(data):
    """SyncConfig from the parsed YAML document; raise SyncConfigError naming the key."""
    data = data or {}
    if not isinstance(data, dict):
        raise SyncConfigError("the sync config must be a mapping at the top level")
    known = {"scope", "connection", "link_by_verified_email", "create_users", "roles", "profile", "policies",
             "managed_connections", "deprovision", "risk", "back_provision"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SyncConfigError(f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
    profile, deprov, risk = data.get("profile") or {}, data.get("deprovision") or {}, data.get("risk") or {}
    threshold = deprov.get("threshold", 500)
    if not isinstance(threshold, int) or threshold < 0:
        raise SyncConfigError("deprovision.threshold must be a whole number ≥ 0")
    level = risk.get("level", "high")
    if level not in ("low", "medium", "high"):
        raise SyncConfigError("risk.level must be low, medium or high")
    return SyncConfig(
        scope_groups=_strings((data.get("scope") or {}).get("groups"), "scope.groups"),
        connection=data.get("connection"), link_by_verified_email=bool(data.get("link_by_verified_email")),
        create_users=bool(data.get("create_users", True)), roles=_roles(data.get("roles") or {}),
        namespace=str(profile.get("namespace", "entra")), attributes=_attributes(profile.get("attributes")),
        policies=_policies(data.get("policies") or {}),
        managed_connections=_strings(data.get("managed_connections"), "managed_connections"),
        delete_after_days=deprov.get("delete_after_days"), threshold=threshold, risk_level=level,
        **_back_provision(data.get("back_provision")),
    )


class ConfigFile:
    """The mapping file, re-read when its modification time changes (no restart needed)."""

    def __init__(self, path):
        self.path, self._lock = path, threading.Lock()
        self._mtime, self._config, self._good = None, SyncConfig(), False

    def get(self):
        """The current SyncConfig; a broken edit is logged once and the last good mapping stays in force."""
        if not self.path:
            return self._config
        mtime = os.stat(self.path).st_mtime_ns
        with self._lock:
            if mtime != self._mtime:
                try:
                    self._config, self._good = self._read(), True
                except SyncConfigError:
                    if not self._good:
                        raise  # nothing good to fall back on: the caller must see the error
                    log.exception("SYNC_CONFIG edit refused; keeping the previous mapping")
                self._mtime = mtime
            return self._config

    def _read(self):
        with open(self.path, encoding="utf-8") as fh:
            try:
                return parse(yaml.safe_load(fh))
            except yaml.YAMLError as err:
                raise SyncConfigError(f"{self.path} is not valid YAML: {err}") from None
