"""A run's report as JSON (machines), CSV (spreadsheets) and HTML (people; summary first)."""
import csv
import io
import json

from flask import render_template

from service.reconcile.classify import SAFE

CSV_COLUMNS = ("class", "safe", "status", "auth0_user_id", "entra_object_id", "other_auth0_user_ids",
               "other_entra_object_ids", "auth0", "entra", "fix")


def as_dict(run):
    """The whole run as plain data."""
    return {"id": run.id, "mode": run.mode, "status": run.status, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None, "summary": run.summary,
            "error": run.error, "findings": run.findings}


def as_json(run):
    """JSON text."""
    return json.dumps(as_dict(run), indent=2, sort_keys=True, default=str)


def as_csv(run):
    """One row per finding; both sides' values and the fix as compact JSON cells."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for f in run.findings:
        writer.writerow([f["class"], f["safe"], f["status"], f["auth0_user_id"] or "", f["entra_object_id"] or "",
                         json.dumps(others(f, "auth0")), json.dumps(others(f, "entra")),
                         json.dumps(f["auth0"], sort_keys=True), json.dumps(f["entra"], sort_keys=True),
                         json.dumps(f["fix"], sort_keys=True)])
    return out.getvalue()


def context(run, safe=SAFE):
    """What the report template needs (the file below, the Rule import's and the operator console render it)."""
    return {"run": run, "counts": sorted((run.summary or {}).get("by_class", {}).items()), "safe": safe,
            "others": others}


def others(f, side):
    """The other ids of a duplicate or ambiguous finding (runs stored before these fields: none)."""
    return list(f.get("other_auth0_user_ids" if side == "auth0" else "other_entra_object_ids") or [])


def as_html(run):
    """A readable page (needs an app context for the template)."""
    return render_template("reconcile.html", **context(run))


RENDERERS = {"json": (as_json, "application/json"), "csv": (as_csv, "text/csv; charset=utf-8"),
             "html": (as_html, "text/html; charset=utf-8")}
