"""What each enabled feature needs: Graph application permissions and Auth0 Management API scopes.

Derived from the calls the code makes (service/clients/graph.py, auth0.py and their callers). A Graph need
is met by any of its permissions: the least privileged one, which we ask operators to grant, comes first;
the others are Microsoft's documented higher-privileged alternatives (Learn, each API's "Permissions"
table). Auth0 scopes have no hierarchy: each one listed is needed.
"""
import dataclasses

# Least privileged first (Learn: user-post-users, user-assignlicense, user-revokesigninsessions,
# subscribedsku-list, domain-get, user-list-memberof, group-list-transitivemembers, riskyuser-list,
# invitation-post).
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_SKUS = ("LicenseAssignment.Read.All", "Organization.Read.All", "Directory.Read.All",
             "LicenseAssignment.ReadWrite.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All")
READ_DOMAINS = ("Domain.Read.All", "Directory.Read.All", "Domain.ReadWrite.All", "Directory.ReadWrite.All")
READ_MEMBERSHIP = ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All", "GroupMember.ReadWrite.All",
                   "Group.ReadWrite.All", "Directory.ReadWrite.All")
READ_RISK = ("IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All")
INVITE = ("User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")


@dataclasses.dataclass(frozen=True)
class Feature:
    """One capability of the product and what it needs from each vendor."""

    name: str
    graph: tuple = ()   # tuples of alternatives, e.g. (("User.ReadWrite.All", "Directory.ReadWrite.All"),)
    auth0: tuple = ()   # scopes, each required


LOGIN = Feature("Office 365 login provisioning", graph=(WRITE_USERS, READ_SKUS, READ_DOMAINS))
ENTRA_SYNC = Feature("Entra → Auth0 sync (block, link, profile)", graph=(READ_USERS, READ_MEMBERSHIP),
                     auth0=("read:users", "update:users", "delete:sessions", "delete:refresh_tokens"))
CREATE_USERS = Feature("Entra → Auth0 user creation (SYNC_CONFIG connection)",
                       auth0=("create:users", "create:user_tickets"))
DELETE_USERS = Feature("Auth0 user deletion (SYNC_CONFIG deprovision.delete_after_days)", auth0=("delete:users",))
ROLES = Feature("group → role mapping (SYNC_CONFIG roles)",
                auth0=("read:roles", "create:role_members", "delete:role_members"))
RISK = Feature("risky-user lockout (RISK_POLL_INTERVAL_S)", graph=(READ_RISK, WRITE_USERS),
               auth0=("update:users", "delete:sessions"))
RECONCILE = Feature("reconciliation (RECONCILE_INTERVAL_S)", graph=(READ_MEMBERSHIP,),
                    auth0=("read:users", "read:roles"))
DEPROVISION = Feature("Auth0 → Entra graded deprovisioning (AUTH0_EVENTS_TOKEN)", graph=(WRITE_USERS,),
                      auth0=("read:users",))
GUESTS = Feature("back-provisioning as B2B guests (SYNC_CONFIG back_provision.mode: guest)", graph=(INVITE,))
PREFLIGHT = Feature("service check (Actions)", auth0=("read:actions",))


def enabled(settings, config):
    """The features these settings and this sync mapping (service.sync.config.SyncConfig) switch on."""
    features = [LOGIN, ENTRA_SYNC]
    if config.create_users and config.connection:
        features.append(CREATE_USERS)
    if config.delete_after_days is not None:
        features.append(DELETE_USERS)
    if config.roles:
        features.append(ROLES)
    if settings.risk_interval_s > 0:
        features.append(RISK)
    if settings.reconcile_interval_s > 0:
        features.append(RECONCILE)
    if settings.auth0_events_token:
        features.append(DEPROVISION)
    if config.back_provision_connections and config.back_provision_mode == "guest":
        features.append(GUESTS)
    return features


def missing_graph(features, roles):
    """[(feature name, least privileged permission)] for every Graph need no granted role meets."""
    granted = set(roles or ())
    out = []
    for feature in features:
        for alternatives in feature.graph:
            if not granted.intersection(alternatives) and (feature.name, alternatives[0]) not in out:
                out.append((feature.name, alternatives[0]))
    return out


def missing_auth0(features, scopes):
    """[(feature name, scope)] for every Auth0 scope the token lacks."""
    granted = set(scopes or ())
    return [(f.name, s) for f in features for s in f.auth0 if s not in granted]


def graph_permissions(features):
    """The least privileged Graph application permissions the features need, in a stable order."""
    return sorted({alternatives[0] for f in features for alternatives in f.graph})


def auth0_scopes(features):
    """Every Auth0 scope the features need, in a stable order."""
    return sorted({s for f in features for s in f.auth0})
