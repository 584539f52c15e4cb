"""Smart links and deep links: built right, and no open redirect."""
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from service import smartlinks

SETTINGS = SimpleNamespace(o365_domain="partners.contoso.com", auth0_domain="acme.eu.auth0.com",
                           o365_auth0_client_id="o365client", o365_deep_link_hosts=("contoso.sharepoint.com",))


def test_smart_link_carries_domain_hint_and_encoded_deep_link():
    target = "https://contoso.sharepoint.com/sites/partners/Shared Documents?web=1&x=y"
    links = smartlinks.links_for(SETTINGS, target.replace(" ", "%20"))
    parts = urlsplit(links["smart_link"])
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "login.microsoftonline.com", "/login.srf")
    assert query == {"wa": ["wsignin1.0"], "whr": ["partners.contoso.com"],
                     "wreply": [target.replace(" ", "%20")]}
    assert links["idp_initiated_link"] == "https://acme.eu.auth0.com/login?client=o365client&protocol=wsfed"


@pytest.mark.parametrize("target", [
    "https://evil.example.com/", "http://contoso.sharepoint.com/", "https://contoso.sharepoint.com.evil.com/",
    "https://user:pw@contoso.sharepoint.com/", "//contoso.sharepoint.com/", "javascript:alert(1)",
    "https://contoso.sharepoint.com\\@evil.com/",
])
def test_deep_links_outside_the_allow_list_are_refused(target):
    with pytest.raises(smartlinks.DeepLinkRefused):
        smartlinks.links_for(SETTINGS, target)


def test_without_an_allow_list_every_deep_link_is_refused_with_the_setting_named():
    settings = SimpleNamespace(**{**vars(SETTINGS), "o365_deep_link_hosts": ()})
    with pytest.raises(smartlinks.DeepLinkRefused, match="O365_DEEP_LINK_HOSTS"):
        smartlinks.links_for(settings, "https://contoso.sharepoint.com/")
    assert "wreply" not in smartlinks.links_for(settings)["smart_link"]
