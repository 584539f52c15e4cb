"""A Rule import's report file (.json, .csv or .html), streamed: the adopt list can hold the whole tenant."""
import json
import os

from service.reconcile import report
from service.rule_import.classify import SAFE

FORMATS = ("json", "csv", "html")


def format_of(path):
    """json, csv or html from the file name; ValueError naming the fix otherwise."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"--report {path}: name a .json, .csv or .html file")
    return ext


def _all(kept, spool):
    """Proposals and fixes first, then every adoption."""
    yield from kept
    for _, f in spool.findings(classes=("adopt",)):
        yield f


class _View:
    """The stored run with its findings replaced by a stream."""

    def __init__(self, run, findings):
        self._run, self.findings = run, findings

    def __getattr__(self, name):
        return getattr(self._run, name)


def write(path, run, kept, spool):
    """Write the report of run to path in the format its extension names."""
    kind = format_of(path)
    findings = _all(kept, spool)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        if kind == "json":
            _json(fh, run, findings)
        elif kind == "csv":
            _csv(fh, run, findings)
        else:
            _html(fh, run, findings)


def _json(fh, run, findings):
    head = report.as_dict(_View(run, []))
    text = json.dumps(head, indent=2, sort_keys=True, default=str)
    fh.write(text[:text.rindex('"findings": []')] + '"findings": [')
    for i, f in enumerate(findings):
        fh.write(("," if i else "") + "\n    " + json.dumps(f, sort_keys=True, default=str))
    fh.write(text[text.rindex('"findings": []') + len('"findings": ['):])


def _csv(fh, run, findings):
    """The reconciliation's CSV, written a thousand rows at a time (header once)."""
    chunk, first = [], True
    for f in findings:
        chunk.append(f)
        if len(chunk) == 1000:
            first = _csv_chunk(fh, run, chunk, first)
            chunk = []
    _csv_chunk(fh, run, chunk, first)


def _csv_chunk(fh, run, chunk, first):
    if chunk or first:
        text = report.as_csv(_View(run, chunk))
        fh.write(text if first else text.split("\n", 1)[1])
    return False


def _html(fh, run, findings):
    from flask import stream_template
    for part in stream_template("reconcile.html", **report.context(_View(run, findings), SAFE)):
        fh.write(part)
