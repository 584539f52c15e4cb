"""README's ownership marker is the one the sync honours: with it a user is the companion's, without it never."""
import json
import os
import re

from service.sandbox import ROOT
from service.sync import handlers
from tests.sync.conftest import AUTH0_DB


def test_the_documented_ownership_marker_hands_a_user_to_the_companion(world):
    """README's recipe for handing an existing Auth0 user to the companion works, and only with the marker."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    assert "`app_metadata.{namespace}.managed: true`" in readme
    recipe = re.search(r'`(\{"entra": \{"managed": true, "object_id": "<Entra object id>"\}\})`', readme).group(1)
    ctx = world.context({"connection": AUTH0_DB})
    for name, marked in (("dave", True), ("erin", False)):
        person = world.user(name)
        meta = json.loads(recipe.replace("<Entra object id>", person["id"])) if marked else {}
        world.seed_auth0(email=person["mail"], email_verified=True, connection=AUTH0_DB, app_metadata=meta,
                         password="Sandbox-" + name + "-pw-1234!")
        world.entra.update_user(person["id"], {"accountEnabled": False})
        assert handlers.sync_user(ctx, person["id"], {}) == ("blocked" if marked else "not-managed")
        assert world.auth0_users(person["mail"])[0].get("blocked", False) is marked
