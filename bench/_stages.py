"""Where a crowd's first logins spent their time: each browser's start and end joined with the times the
companion recorded (the link, the audit log's facts), per stage, p50 / p95."""
from sqlalchemy import create_engine, select

from bench._report import _s, percentile
from service.links import utc
from service.models import AuditEvent, Link

CREATED, LICENSED = "entra.user.created", "entra.licence.assigned"
STAGES = (("browser start → link recorded", "start", "link"),
          ("link → account created", "link", CREATED),
          ("account created → licence assigned", CREATED, LICENSED),
          ("licence assigned → ready", LICENSED, "ready"),
          ("ready → the browser's answer", "ready", "end"))


def stage_seconds(database_url, logins):
    """{stage: [seconds per login]} for the logins that finished (each carries its user_id and wall-clock start)."""
    done = {x.user_id: x for x in logins if x.ok and x.user_id}
    if not done:
        return {}
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            marks = {uid: {"start": x.started, "end": x.started + x.seconds} for uid, x in done.items()}
            for uid, made, ready in conn.execute(select(Link.auth0_user_id, Link.created_at, Link.ready_at)
                                                 .where(Link.auth0_user_id.in_(list(done)))):
                marks[uid].update(link=_epoch(made), ready=_epoch(ready))
            for uid, action, at in conn.execute(select(AuditEvent.auth0_user_id, AuditEvent.action, AuditEvent.at)
                                                .where(AuditEvent.action.in_([CREATED, LICENSED]),
                                                       AuditEvent.auth0_user_id.in_(list(done)))):
                marks[uid][action] = _epoch(at)
    finally:
        engine.dispose()
    return {name: [m[b] - m[a] for m in marks.values() if m.get(a) is not None and m.get(b) is not None]
            for name, a, b in STAGES}


def _epoch(when):
    return None if when is None else utc(when).timestamp()


def table(batches):
    """One Markdown row per batch of ours: p50 / p95 seconds of each stage."""
    rows = [b for b in batches if getattr(b, "stages", None)]
    if not rows:
        return ""
    head = "| setup | lag s | " + " | ".join(name for name, _a, _b in STAGES) + " |"
    lines = [head, "|" + "---|" * (len(STAGES) + 2)]
    for b in rows:
        cells = [f"{_s(percentile(b.stages[name], 50))} / {_s(percentile(b.stages[name], 95))}"
                 for name, _a, _b in STAGES]
        lines.append(f"| {b.name} | {b.lag_s:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
