"""Pure mapping from an Auth0 user to the Entra ID account it gets: ImmutableID, UPN, names."""
import base64
import hashlib
import re
import secrets
import string
import unicodedata
import uuid

from service import text
from service.settings import is_country

# Characters Entra accepts in a UPN's local part (Learn, user-post-users): A-Z a-z 0-9 ' . - _ ! # ^ ~
_UPN_ALLOWED = re.compile(r"[^A-Za-z0-9'.\-_!#^~]")
# mailNickname may not hold @ ( ) \ [ ] " ; : < > , or spaces; we keep a conservative ASCII subset.
_NICK_ALLOWED = re.compile(r"[^A-Za-z0-9.\-_]")
LOCAL_PART_MAX = 64
DISPLAY_NAME_MAX = 256


class InvalidUser(ValueError):
    """The Auth0 user cannot be mapped; `field` names the offending field."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


def immutable_id(auth0_user_id, namespace):
    """Standard base64 of a name-based GUID of the Auth0 user id: stable, never '$' or '_'."""
    guid = uuid.uuid5(uuid.UUID(namespace), auth0_user_id)
    return base64.b64encode(guid.bytes).decode("ascii")


def user_hash(auth0_user_id, length=6):
    """A short stable hash of the Auth0 user id, for unique but readable UPNs."""
    return hashlib.sha256(auth0_user_id.encode("utf-8")).hexdigest()[:length]


def ascii_fold(text):
    """Drop accents (é → e) and anything that has no ASCII form."""
    return unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii")


def _clean_local(text):
    """Sanitise to Entra's UPN rules: allowed characters, no leading, trailing or double dots."""
    text = _UPN_ALLOWED.sub("-", ascii_fold(text).replace(" ", "."))
    text = re.sub(r"\.{2,}", ".", text)
    text = re.sub(r"-{2,}", "-", text)
    return text.strip(".-").lower()


def email_local(user):
    """The email's local part, else the nickname or username, else 'user'."""
    email = user.get("email") or ""
    local = email.split("@", 1)[0] if "@" in email else ""
    return _clean_local(local or user.get("nickname") or user.get("username") or "") or "user"


def upn_local(user, template, variant=0):
    """The UPN's local part from the template; variant n > 0 appends '-n' (next free variant)."""
    values = {
        "hash": user_hash(user["user_id"]),
        "connection": _clean_local(user.get("connection") or "") or "auth0",
    }
    suffix = f"-{variant + 1}" if variant else ""
    # Trim the readable part, never the hash, so long names keep unique UPNs within 64 characters.
    room = LOCAL_PART_MAX - len(suffix) - len(template.format(local="", **values))
    local = email_local(user)[: max(room, 1)].rstrip(".-") or "u"
    return _clean_local(template.format(local=local, **values))[: LOCAL_PART_MAX - len(suffix)] + suffix


def upn(user, template, domain, variant=0):
    """A UPN in the federated domain."""
    return f"{upn_local(user, template, variant)}@{domain}"


def mail_nickname(upn_value):
    """mailNickname from the UPN's local part, within Entra's 64 characters."""
    nick = _NICK_ALLOWED.sub("", upn_value.split("@", 1)[0]).strip(".")
    return (nick or "user")[:LOCAL_PART_MAX]


def display_name(user):
    """name → nickname → email, trimmed to Entra's 256 characters."""
    for key in ("name", "nickname", "email"):
        value = " ".join((user.get(key) or "").split())
        if value:
            return value[:DISPLAY_NAME_MAX]
    return user["user_id"][:DISPLAY_NAME_MAX]


def usage_location(user, default):
    """The user's ISO 3166-1 alpha-2 usage location, or the deployment default."""
    given = user.get("usage_location")
    if given in (None, ""):
        return default
    if not isinstance(given, str) or not is_country(given.upper()):
        raise InvalidUser("usage_location", "usage_location must be an ISO 3166-1 alpha-2 country "
                                            "code such as GB or US")
    return given.upper()


def random_password():
    """A long random password that satisfies Entra's strong-password rule; never stored or logged."""
    alphabet = string.ascii_letters + string.digits + "!#%*+-=?@^~"
    core = "".join(secrets.choice(alphabet) for _ in range(48))
    return core + secrets.choice(string.ascii_uppercase) + secrets.choice(string.digits) + "!a"


def new_user_body(user, upn_value, iid, location):
    """The POST /users body for a federated member account."""
    body = {
        "accountEnabled": True,
        "displayName": display_name(user),
        "mailNickname": mail_nickname(upn_value),
        "userPrincipalName": upn_value,
        "onPremisesImmutableId": iid,
        "usageLocation": location,
        "passwordProfile": {"password": random_password(), "forceChangePasswordNextSignIn": False},
        "passwordPolicies": "DisablePasswordExpiration",
    }
    for auth0_key, graph_key in (("given_name", "givenName"), ("family_name", "surname")):
        value = " ".join((user.get(auth0_key) or "").split())[:64]
        if value:
            body[graph_key] = value
    return body


def check_user_id(uid):
    """An Auth0 user id: 1–255 characters of printable text, e.g. google-oauth2|1234."""
    if not isinstance(uid, str) or not uid.strip() or len(uid) > 255:
        raise InvalidUser("user_id", "user_id must be the Auth0 user id, e.g. google-oauth2|1234")
    why = text.problem(uid)
    if why:
        raise InvalidUser("user_id", f"user_id {why}; send the Auth0 user id as it is, e.g. google-oauth2|1234")
    return uid


def validate_user(user):
    """Check the Auth0 user fields the companion relies on; raise InvalidUser naming the field."""
    if not isinstance(user, dict):
        raise InvalidUser("user", "the body must be a JSON object with the Auth0 user's fields")
    check_user_id(user.get("user_id"))
    for key in ("email", "name", "nickname", "given_name", "family_name", "username", "connection",
                "usage_location"):
        value = user.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidUser(key, f"{key} must be a string")
        if isinstance(value, str) and len(value) > 1024:
            raise InvalidUser(key, f"{key} is longer than 1024 characters")
        why = text.problem(value) if isinstance(value, str) else None
        if why:
            raise InvalidUser(key, f"{key} {why}; send plain UTF-8 text")
    if user.get("email_verified") is not None and not isinstance(user["email_verified"], bool):
        raise InvalidUser("email_verified", "email_verified must be true or false")
    email = user.get("email")
    if email and ("@" not in email or email.startswith("@")):
        raise InvalidUser("email", "email must look like name@example.com")
    return user
