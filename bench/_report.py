"""Percentiles and the Markdown table of the first-login benchmark."""
import dataclasses
import statistics


@dataclasses.dataclass
class Login:
    """One simulated first login: did claims come back, after how long, and could Entra see the licence then."""

    ok: bool
    seconds: float
    visible: bool | None = None
    pages: int = 0
    resent: int = 0
    error: str | None = None


@dataclasses.dataclass
class Batch:
    """N simultaneous first logins of one algorithm at one replication lag."""

    lag_s: float
    n: int
    logins: list
    wall_s: float
    graph_calls: int

    @property
    def done(self):
        return [x for x in self.logins if x.ok]

    @property
    def failed(self):
        return [x for x in self.logins if not x.ok]

    @property
    def before_visible(self):
        return sum(1 for x in self.done if not x.visible)


def percentile(values, q):
    """The q-th percentile (1..99) by linear interpolation; the value itself for one sample; None for none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _s(value):
    return "—" if value is None else f"{value:.2f}"


def _share(k, n):
    return f"{k}/{n} ({100 * k / n:.0f} %)" if n else "—"


def _failed(batch):
    """Failed count, with the median time at which those logins ended in an error."""
    k = len(batch.failed)
    if not k:
        return f"0/{batch.n}"
    return f"{_share(k, batch.n)} after {_s(percentile([x.seconds for x in batch.failed], 50))} s"


def _calls(batch):
    return f"{batch.graph_calls / batch.n:.1f}"


HEADER = ("| lag s | N | Rule p50 s | Rule p95 s | Rule failed | Rule claims before visible | Rule Graph calls/login "
          "| ours p50 s | ours p95 s | ours failed | ours claims before visible | ours waiting pages/login "
          "| ours Graph calls/login |")


def row(rule, ours):
    """One table row for the same lag and N."""
    rule_t, ours_t = [x.seconds for x in rule.done], [x.seconds for x in ours.done]
    pages = sum(x.pages for x in ours.logins) / ours.n
    lag = f"{rule.lag_s:g}" + (" (control)" if rule.lag_s == 0 else "")
    cells = [lag, str(rule.n), _s(percentile(rule_t, 50)), _s(percentile(rule_t, 95)), _failed(rule),
             _share(rule.before_visible, rule.n), _calls(rule), _s(percentile(ours_t, 50)),
             _s(percentile(ours_t, 95)), _failed(ours), _share(ours.before_visible, ours.n), f"{pages:.1f}",
             _calls(ours)]
    return "| " + " | ".join(cells) + " |"


def table(pairs):
    """The Markdown table for [(rule batch, ours batch), ...]."""
    sep = "|" + "|".join("---" for _ in range(HEADER.count("|") - 1)) + "|"
    return "\n".join([HEADER, sep, *(row(r, o) for r, o in pairs)])


def errors(pairs):
    """Distinct failure reasons with their counts, per algorithm."""
    seen = {}
    for rule, ours in pairs:
        for name, batch in (("Rule", rule), ("ours", ours)):
            for x in batch.failed:
                key = (name, x.error)
                seen[key] = seen.get(key, 0) + 1
    return [f"- {name}: {count} × {error}" for (name, error), count in sorted(seen.items(), key=str)]


def resends(pairs):
    """Waiting-page refreshes of ours, and how many a browser had to resend after a keep-alive close."""
    logins = [x for _rule, ours in pairs for x in ours.logins]
    return sum(x.resent for x in logins), sum(x.pages for x in logins)
