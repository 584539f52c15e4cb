"""`python -m service check`: the preflight an operator runs before the first real login.

Each check answers one Line: ✓, ! (a warning that does not fail) or ✗ with the fix. A check that needs
something an earlier one could not get (a token, valid settings) is skipped with the reason.
"""
import dataclasses
import ipaddress
from urllib.parse import urlparse

from service.settings import ConfigError, from_env

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MARKS = {OK: "✓", WARN: "!", FAIL: "✗", SKIP: "-"}
LOOPBACK_NAMES = ("localhost",)


@dataclasses.dataclass
class Line:
    """One checklist line: status, what was checked, what was found, and the fix when it failed."""

    status: str
    title: str
    detail: str = ""
    fix: str = ""


def run(environ=None):
    """Every check, in the order an operator fixes things; returns the Lines."""
    try:
        settings = from_env(environ)
    except ConfigError as err:
        lines = [Line(FAIL, "settings", problem, _settings_fix(problem)) for problem in err.problems]
        return lines + [Line(SKIP, "remaining checks", "skipped until the settings are valid")]
    from service.preflight_checks import Checks  # imports the clients: only once the settings are valid
    return [Line(OK, "settings", "every variable is present and well-formed")] + Checks(settings).run()


def _settings_fix(problem):
    name = problem.split(" ", 1)[0]
    verb = "set" if " is not set" in problem else "correct"
    return f"{verb} {name} in the environment or .env (README, \"Configuration\")"


def public_url(url):
    """COMPANION_PUBLIC_URL is https, or plain http on a loopback address (the sandbox)."""
    parsed = urlparse(url)
    if parsed.scheme == "https":
        return Line(OK, "public URL", f"{url} is https")
    host = (parsed.hostname or "").lower()
    if host in LOOPBACK_NAMES or _is_loopback(host):
        return Line(OK, "public URL", f"{url} is plain http on loopback (sandbox only)")
    return Line(FAIL, "public URL", f"{url} is plain http on a host others reach",
                "serve the companion behind TLS and set COMPANION_PUBLIC_URL=https://…; the Action's "
                "session token and the user's browser travel to it")


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def failed(lines):
    """True when any line is ✗."""
    return any(line.status == FAIL for line in lines)


def render(lines):
    """The checklist as text: one line per check, the fix indented under each ✗."""
    out = []
    for line in lines:
        out.append(f"{MARKS[line.status]} {line.title}: {line.detail}".rstrip(": "))
        if line.fix and line.status in (FAIL, WARN):
            out.append(f"    fix: {line.fix}")
    bad = sum(line.status == FAIL for line in lines)
    warned = sum(line.status == WARN for line in lines)
    out.append(f"{bad} problem(s), {warned} warning(s)" if bad or warned else "all checks passed")
    return "\n".join(out)

