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
    user_id: str | None = None
    started: float | None = None  # wall clock (epoch seconds) when the browser began, for bench/_stages.py


@dataclasses.dataclass
class Batch:
    """N simultaneous first logins of one algorithm at one replication lag, and what they cost."""

    lag_s: float
    n: int
    logins: list
    wall_s: float
    graph_calls: int
    name: str = "ours"
    ru: int = 0
    throttled: int = 0           # 429s Graph answered (absorbed by retries, or reaching a person)
    cpu_s: float | None = None   # service processes' user + system CPU during the batch
    peak_mb: float | None = None  # service processes' peak RSS during the batch
    idle_mb: float | None = None  # ... and before it
    status_reads: list = dataclasses.field(default_factory=list)  # a returning user's status reads (s)
    stages: dict = dataclasses.field(default_factory=dict)  # ours: {stage: [seconds per login]}

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
    share = f"{100 * k / n:.1f}".removesuffix(".0") if n else ""  # 199/200 is 99.5 %, not "100 %"
    return f"{k}/{n} ({share} %)" if n else "—"


def _failed(batch):
    """Failed count, with the median time at which those logins ended in an error."""
    k = len(batch.failed)
    if not k:
        return f"0/{batch.n}"
    return f"{_share(k, batch.n)} after {_s(percentile([x.seconds for x in batch.failed], 50))} s"


def _calls(batch):
    return f"{batch.graph_calls / batch.n:.1f}"


HEADER = ("| algorithm | lag s | N | p50 s | p95 s | failed | claims before visible | 429s reaching a person "
          "| waiting pages/login | Graph calls/login | RU/login | Graph 429s | returning status read p95 ms "
          "| CPU ms/login | MB per pending login |")


def _throttled_people(batch):
    """Logins that ended on an error a throttled Graph caused (what a person would have seen)."""
    return sum(1 for x in batch.failed if x.error and any(k in x.error for k in ("429", "throttl", "busy")))


def row(batch):
    """One table row."""
    done = [x.seconds for x in batch.done]
    lag = f"{batch.lag_s:g}" + (" (control)" if batch.lag_s == 0 else "")
    ours = batch.cpu_s is not None
    reads = percentile(batch.status_reads, 95)
    mem = (batch.peak_mb - batch.idle_mb) / batch.n if ours and batch.idle_mb is not None else None
    cells = [batch.name, lag, str(batch.n), _s(percentile(done, 50)), _s(percentile(done, 95)), _failed(batch),
             _share(batch.before_visible, batch.n), str(_throttled_people(batch)),
             f"{sum(x.pages for x in batch.logins) / batch.n:.1f}" if ours else "—", _calls(batch),
             f"{batch.ru / batch.n:.1f}", str(batch.throttled),
             "—" if reads is None else f"{1000 * reads:.0f} ({len(batch.status_reads)} reads)",
             f"{1000 * batch.cpu_s / batch.n:.0f}" if ours else "—", "—" if mem is None else f"{mem:.2f}"]
    return "| " + " | ".join(cells) + " |"


def table(batches):
    """The Markdown table, one row per batch."""
    sep = "|" + "|".join("---" for _ in range(HEADER.count("|") - 1)) + "|"
    return "\n".join([HEADER, sep, *(row(b) for b in batches)])


def errors(batches):
    """Distinct failure reasons with their counts, per algorithm."""
    seen = {}
    for batch in batches:
        for x in batch.failed:
            key = (batch.name, x.error)
            seen[key] = seen.get(key, 0) + 1
    return [f"- {name}: {count} × {error}" for (name, error), count in sorted(seen.items(), key=str)]


def resends(batches):
    """Waiting-page refreshes of ours, and how many a browser had to resend after a keep-alive close."""
    logins = [x for b in batches if b.cpu_s is not None for x in b.logins]
    return sum(x.resent for x in logins), sum(x.pages for x in logins)
