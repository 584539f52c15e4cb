"""Office 365 smart links and Auth0 IdP-initiated links, with deep links checked against an allow-list."""
from urllib.parse import quote, urlencode, urlsplit

from service import text

MICROSOFT_LOGIN = "https://login.microsoftonline.com/login.srf"


class DeepLinkRefused(ValueError):
    """The deep link is not an https URL on an allowed tenant host (no open redirects)."""


def check_deep_link(target, allowed_hosts):
    """Return target when it is https on an allowed host, else raise DeepLinkRefused saying why."""
    if not allowed_hosts:
        raise DeepLinkRefused("No deep-link hosts are allowed; set O365_DEEP_LINK_HOSTS, "
                              "e.g. contoso.sharepoint.com,outlook.office.com.")
    try:  # urlsplit and .port refuse bad brackets, bad ports and NFKC tricks (／ ＃ ℀) with ValueError
        parts = urlsplit(target or "")
        parts.port  # noqa: B018 - parsed for its check only
    except ValueError:
        raise DeepLinkRefused("The deep link is not a well-formed URL; give a plain https URL, e.g. "
                              "https://contoso.sharepoint.com/sites/partners.") from None
    if parts.scheme != "https" or not parts.hostname or not text.storable(target):
        raise DeepLinkRefused("The deep link must be an absolute https URL, e.g. "
                              "https://contoso.sharepoint.com/sites/partners.")
    if parts.username or parts.password or "\\" in target or any(ord(c) < 33 for c in target):
        raise DeepLinkRefused("The deep link holds credentials, backslashes or spaces; give a plain URL.")
    if parts.hostname.lower() not in allowed_hosts:
        raise DeepLinkRefused(f"{parts.hostname} is not an allowed deep-link host; allowed: "
                              f"{', '.join(allowed_hosts)} (O365_DEEP_LINK_HOSTS).")
    return target


def smart_link(domain, deep_link=None):
    """Microsoft's login page with the federated domain hint, then the deep link."""
    params = {"wa": "wsignin1.0", "whr": domain}
    if deep_link:
        params["wreply"] = deep_link
    return f"{MICROSOFT_LOGIN}?{urlencode(params, quote_via=quote, safe='')}"


def idp_initiated_link(auth0_domain, office365_client_id):
    """Auth0's IdP-initiated WS-Fed login for the Office 365 application."""
    return f"https://{auth0_domain}/login?{urlencode({'client': office365_client_id, 'protocol': 'wsfed'})}"


def links_for(settings, deep_link=None):
    """Both links for the configured tenant; deep_link is checked first."""
    if deep_link:
        check_deep_link(deep_link, settings.o365_deep_link_hosts)
    out = {"smart_link": smart_link(settings.o365_domain, deep_link)}
    if settings.o365_auth0_client_id:
        out["idp_initiated_link"] = idp_initiated_link(settings.auth0_domain, settings.o365_auth0_client_id)
    return out
