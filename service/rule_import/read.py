"""Read the Rule's world into the spool: Auth0 by export job, Entra by paged listing, deleted items, links."""
from itertools import islice

from service.clients.graph import odata_str
from service.reconcile import read as reconcile_read
from service.rule_import import identity

EXPORT_FIELDS = ("user_id", "email", "blocked", "app_metadata", "identities")
ENTRA_SELECT = ("id", "userPrincipalName", "onPremisesImmutableId", "accountEnabled", "displayName",
                "mailNickname", "assignedLicenses", "usageLocation")
DELETED_SELECT = ("id", "userPrincipalName", "onPremisesImmutableId")
BATCH = 5000


def domains(settings):
    """The federated domain(s) the Rule wrote to (RULE_DOMAINS, else O365_DOMAIN)."""
    return settings.rule_domains or (settings.o365_domain,)


def _spool(rows, add):
    """Feed rows to add() a batch at a time; the count."""
    count = 0
    while chunk := list(islice(rows, BATCH)):
        add(chunk)
        count += len(chunk)
    return count


def start_export(ctx):
    """Start the users export job first: Auth0 builds the file while Entra is being listed."""
    return ctx.auth0.start_users_export(fields=list(EXPORT_FIELDS))


def auth0_rule_users(ctx, spool, job):
    """Every Auth0 user of the export job; those the Rule provisioned are kept. (read, kept)."""
    seen = [0]

    def rows():
        for user in ctx.auth0.iter_export(job["id"]):
            seen[0] += 1
            keys = identity.rule_keys(user.get("app_metadata"))
            if keys is not None:
                yield user["user_id"], keys[0], keys[1], int(bool(user.get("blocked"))), user.get("email")
    kept = _spool(rows(), spool.add_rule_users)
    return seen[0], kept


def entra_accounts(ctx, spool, names):
    """Every account in the federated domain(s), 999 a page with $select (endsWith needs advanced query)."""
    def rows(domain):
        flt = f"endswith(userPrincipalName,{odata_str('@' + domain)})"
        for u in ctx.graph.iter_users(filter=flt, select=ENTRA_SELECT, top=999, advanced=True):
            yield (u["id"], u.get("userPrincipalName"), u.get("onPremisesImmutableId"),
                   int(u.get("accountEnabled", True) is not False), int(bool(u.get("assignedLicenses"))),
                   u.get("displayName"), u.get("mailNickname"),
                   identity.person(u.get("displayName"), u.get("mailNickname")), u.get("usageLocation"))
    return sum(_spool(rows(d), spool.add_accounts) for d in names)


def deleted_accounts(ctx, spool):
    """Soft-deleted users (restorable for 30 days), paged; their original UPN recovered."""
    items = ctx.graph.iter_pages("/directory/deletedItems/microsoft.graph.user",
                                 {"$select": ",".join(DELETED_SELECT), "$top": "999"})
    rows = ((u["id"], identity.deleted_upn(u["id"], u.get("userPrincipalName")), u.get("onPremisesImmutableId"))
            for u in items)
    return _spool(rows, spool.add_deleted)


def links(store, spool):
    """Every identity link with an account (the reconciliation's streamed reader); the count."""
    return _spool(((r["auth0_user_id"], r["entra_object_id"], r["deprovision_step"])
                   for r in reconcile_read.links(store)),
                  spool.add_links)
