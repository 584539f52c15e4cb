"""Pure facts about what the Rule wrote: its app_metadata keys, its UPN pattern, its ImmutableIDs."""
import base64
import binascii
import re
import uuid

# The keys the Rule saved on the Auth0 user (auth0/docs office-365-custom-provisioning, saveUserMetadata).
KEYS = ("office365Provisioned", "office365UPN", "office365ImmutableId")
UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def rule_keys(app_metadata):
    """(upn, immutable_id) the Rule stored, or None when the user never went through the Rule."""
    meta = app_metadata or {}
    if not any(meta.get(k) for k in KEYS):
        return None
    return str(meta.get("office365UPN") or ""), str(meta.get("office365ImmutableId") or "")


def upn_matcher(pattern, domains):
    """A compiled, case-insensitive regex for the Rule's UPN pattern over the given domains."""
    parts = re.split(r"(\{uuid\}|\{domain\})", pattern)
    domain_re = "(?:" + "|".join(re.escape(d) for d in domains) + ")"
    body = "".join(UUID_RE if p == "{uuid}" else domain_re if p == "{domain}" else re.escape(p) for p in parts)
    return re.compile(body + "$", re.IGNORECASE)


def is_uuid_string_id(immutable_id):
    """True for the Rule's ImmutableID: standard base64 of a UUID *string* (36 bytes → 48 characters)."""
    if not immutable_id or len(immutable_id) != 48:
        return False
    try:
        text = base64.b64decode(immutable_id, validate=True).decode("ascii")
        uuid.UUID(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return len(text) == 36


def looks_like_rule(upn, immutable_id, matcher):
    """An Entra account the Rule made: its UPN pattern, or its kind of ImmutableID."""
    return bool(upn and matcher.match(upn)) or is_uuid_string_id(immutable_id)


def person(display_name, mail_nickname):
    """The key that groups accounts of one person: the Rule set mailNickname from the email, displayName
    from the nickname, so either repeats for every account one person's failed logins left."""
    return (mail_nickname or display_name or "").strip().lower() or None


def deleted_upn(oid, upn):
    """Entra prefixes a deleted user's UPN with its object id (no dashes); the original UPN."""
    prefix = (oid or "").replace("-", "")
    return upn[len(prefix):] if prefix and upn and upn.startswith(prefix) else upn
