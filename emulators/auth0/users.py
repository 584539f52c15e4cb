"""Users: payload checks, creation, PATCH semantics and the public shape (facts §3.3)."""
import hashlib
import re
import secrets

from emulators.auth0.errors import Auth0Error, bad_body, wrong_type
from emulators.auth0.store import now_iso, primary_connection

# Root fields of POST /users and their JSON types (CreateUserRequestContent in the vendor extract).
CREATE_FIELDS = {
    "email": str, "phone_number": str, "user_metadata": dict, "blocked": bool, "email_verified": bool,
    "phone_verified": bool, "app_metadata": dict, "given_name": str, "family_name": str, "name": str,
    "nickname": str, "picture": str, "user_id": str, "connection": str, "password": str,
    "verify_email": bool, "username": str,
}
# PATCH /users/{id}: the documented updatable root fields plus connection/client_id
# (UpdateUserRequestContent); Auth0 rejects anything else at the root.
PATCH_FIELDS = {k: v for k, v in CREATE_FIELDS.items() if k != "user_id"}
PATCH_FIELDS.update({"verify_phone_number": bool, "client_id": str})
NULLABLE = {"email", "phone_number", "given_name", "family_name", "name", "nickname", "picture", "password",
            "username"}
LENGTHS = {"given_name": (1, 150), "family_name": (1, 150), "name": (1, 300), "nickname": (1, 300),
           "username": (1, 128), "password": (1, None), "connection": (1, None), "user_id": (0, 255),
           "client_id": (1, None)}
TYPE_NAMES = {str: "string", bool: "boolean", dict: "object", int: "integer", list: "array"}
PHONE = re.compile(r"^\+[0-9]{1,15}$")
# Write-only request fields that never appear on the stored user.
REQUEST_ONLY = {"password", "verify_email", "verify_phone_number", "connection", "client_id"}
# Connection strategies whose users the Management API can create (POST /users description).
CREATABLE = {"auth0", "email", "sms"}
SOCIAL = {"google-oauth2", "github", "linkedin", "facebook", "twitter", "apple", "windowslive"}
MIN_PASSWORD = 8  # the sandbox database connection's password policy


def check_payload(body, allowed, nullable=()):
    """Reject non-objects, unknown root fields and wrong types, naming the field."""
    if not isinstance(body, dict):
        raise bad_body(f"'Expected type object but found type {type(body).__name__}'.")
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise bad_body(f"'Additional properties not allowed: {','.join(unknown)}'.")
    for key, value in body.items():
        if value is None and key in nullable:
            continue
        expected = allowed[key]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise wrong_type(key, TYPE_NAMES[expected], value)
        _check_value(key, value)


def _check_value(key, value):
    """Length, format and pattern rules of single fields."""
    low, high = LENGTHS.get(key, (None, None))
    if isinstance(value, str) and low is not None and len(value) < low:
        raise bad_body(f"'String is too short ({len(value)} chars), minimum {low}' on property {key}.")
    if isinstance(value, str) and high is not None and len(value) > high:
        raise bad_body(f"'String is too long ({len(value)} chars), maximum {high}' on property {key}.")
    if key == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise bad_body(f"'Object didn't pass validation for format email: {value}' on property email.")
    if key == "phone_number" and not PHONE.match(value):
        raise bad_body(f"'String does not match pattern {PHONE.pattern}: {value}' on property phone_number.")
    if key == "user_id" and re.search(r"\s", value):
        raise bad_body(f"'String does not match pattern ^\\S*$: {value}' on property user_id.")
    if key in ("app_metadata", "user_metadata"):
        bad = [k for k in value if "." in k or k.startswith("$")]
        if bad:
            raise bad_body(f"'Metadata keys must not contain \".\" or start with \"$\": {bad[0]}' on property {key}.")


def create_user(store, body):
    """POST /users: validate, enforce uniqueness per connection, store and return the user."""
    check_payload(body, CREATE_FIELDS)
    if "connection" not in body:
        raise bad_body("'Missing required property: connection'.")
    conn = store.connections.get(body["connection"])
    if conn is None:
        raise Auth0Error(400, "The connection does not exist.", "inexistent_connection")
    if conn["strategy"] not in CREATABLE:
        raise Auth0Error(400, "Connection does not support user creation through the API. It must either be "
                              "a database or passwordless connection.", "operation_not_supported")
    if conn["strategy"] == "auth0":
        _check_database_user(body)
    user = new_user(conn, {k: v for k, v in body.items() if k != "connection"})
    if store.email_taken(conn["name"], user.get("email")) or user["user_id"] in store.users:
        raise Auth0Error(409, "The user already exists.", "auth0_idp_error")
    store.add_user(user)
    if conn["strategy"] == "auth0":
        store.set_password(user["user_id"], body["password"])
    return user


def _check_database_user(body):
    """A database connection needs email + password and (here) no username."""
    for required in ("email", "password"):
        if required not in body:
            raise bad_body(f"'Missing required property: {required}'.")
    if "username" in body:
        raise Auth0Error(400, "Cannot set username for connection without requires_username.", "invalid_body")
    if len(body["password"]) < MIN_PASSWORD:
        raise Auth0Error(400, "PasswordStrengthError: Password is too weak", "invalid_password")


def new_user(conn, fields):
    """A stored user for a connection from creation or seed fields (no uniqueness checks)."""
    strategy = conn["strategy"]
    email = fields.get("email")
    if email and strategy == "auth0":
        email = email.lower()  # database connections keep emails lower-case (facts §3.1)
    local_id = fields.get("user_id") or _local_id(strategy, email)
    if strategy == "samlp" and not local_id.startswith(conn["name"] + "|"):
        local_id = f"{conn['name']}|{local_id}"
    stamp = now_iso()
    user = {"user_id": f"{strategy}|{local_id}", "created_at": stamp, "updated_at": stamp,
            "identities": [{"connection": conn["name"], "provider": strategy, "user_id": local_id,
                            "isSocial": strategy in SOCIAL}],
            "app_metadata": {}, "user_metadata": {}}
    if email:
        user.update(email=email, email_verified=False, name=email, nickname=email.split("@")[0],
                    picture=_gravatar(email))
    for key, value in fields.items():
        if key not in REQUEST_ONLY and key != "user_id" and value is not None:
            user[key] = value if key != "email" else email
    return user


def _local_id(strategy, email):
    """The provider-side id: 24 hex for database users, digits for social, the email for SAML."""
    if strategy in SOCIAL:
        return str(10 ** 20 + secrets.randbelow(9 * 10 ** 20))
    if strategy == "samlp" and email:
        return email
    return secrets.token_hex(12)


def _gravatar(email):
    """The default picture Auth0 assigns: a Gravatar URL for the email."""
    digest = hashlib.md5(email.encode()).hexdigest()  # noqa: S324 - Gravatar's scheme, not security
    return f"https://s.gravatar.com/avatar/{digest}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2F{email[:2]}.png"


def patch_user(store, user_id, body):
    """PATCH /users/{id}: replace root fields, merge metadata one level (null deletes a key)."""
    check_payload(body, PATCH_FIELDS, NULLABLE)
    user = store.user(user_id)
    if "password" in body and "email" in body:
        raise Auth0Error(400, "Cannot update password and email simultaneously.", "invalid_body")
    if "password" in body and "email_verified" in body:
        raise Auth0Error(400, "Cannot update password and email_verified simultaneously.", "invalid_body")
    old_email = user.get("email")
    new_email = _new_email(store, user, body)
    for key, value in body.items():
        if key in ("app_metadata", "user_metadata"):
            user[key] = merge_metadata(user.get(key) or {}, value)
        elif key == "password":
            user["last_password_reset"] = now_iso()
            if value:
                store.set_password(user_id, value)
        elif key in REQUEST_ONLY:
            continue
        elif value is None:
            user.pop(key, None)
        else:
            user[key] = new_email if key == "email" else value
    if new_email is not None and new_email != old_email:
        if "email_verified" not in body:
            user["email_verified"] = False  # a new address starts unverified
        store.reindex_email(user, old_email)
    user["updated_at"] = now_iso()
    return user


def _new_email(store, user, body):
    """The normalised new email, refusing one another user of the connection holds."""
    email = body.get("email")
    if email is None:
        return None
    conn = store.connections.get(primary_connection(user)) or {}
    if conn.get("strategy") == "auth0":
        email = email.lower()
    if email != user.get("email") and store.email_taken(primary_connection(user), email):
        raise Auth0Error(400, "The specified new email already exists", "email_conflict")
    return email


def merge_metadata(current, patch):
    """One-level merge: top-level keys replaced whole, a null value removes the key."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def public(user, fields=None, include=True):
    """The user as the API returns it: empty app_metadata omitted, optional field selection."""
    out = {k: v for k, v in user.items() if not (k == "app_metadata" and not v)}
    if not fields:
        return out
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    if include:
        return {k: v for k, v in out.items() if k in wanted}
    return {k: v for k, v in out.items() if k not in wanted}
