"""Pure functions from an Entra user (and its groups) to what its Auth0 user should carry."""


def in_scope(group_ids, config):
    """In scope when no scope groups are configured, or the user is in one of them."""
    return not config.scope_groups or bool(set(config.scope_groups) & set(group_ids))


def desired_roles(group_ids, config):
    """Managed role names the user's groups grant (many-to-many: union over groups)."""
    return frozenset(role for group in group_ids for role in config.roles.get(group, ()))


def role_changes(current_names, group_ids, config):
    """(to_add, to_remove) role names; roles the mapping does not manage are never touched."""
    want = desired_roles(group_ids, config)
    have = frozenset(current_names) & config.managed_roles
    return sorted(want - have), sorted(have - want)


def profile(graph_user, manager_upn, config):
    """The profile attributes for app_metadata[namespace], per the configured mapping."""
    source = dict(graph_user, manager=manager_upn)
    out = {key: source.get(prop) for key, prop in config.attributes.items()}
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def policy(group_ids, config):
    """The login policy the user's groups imply: MFA if any group requires it; allowed connections merged."""
    chosen = [config.policies[g] for g in group_ids if g in config.policies]
    if not chosen:
        return None
    mfa = "required" if any(p["mfa"] == "required" for p in chosen) else "none"
    allowed = sorted({c for p in chosen for c in p["allowed_connections"]})
    return {"mfa": mfa, **({"allowed_connections": allowed} if allowed else {})}


def namespace_record(existing, graph_user, manager_upn, config):
    """The whole app_metadata[namespace] object to write (Auth0 merges metadata one level deep only)."""
    keep = {k: v for k, v in (existing or {}).items() if k in ("managed", "blocked_by_companion", "disabled_at")}
    return {**keep, **profile(graph_user, manager_upn, config), "object_id": graph_user["id"],
            "upn": graph_user.get("userPrincipalName"), "managed": True}
