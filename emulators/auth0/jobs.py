"""User export jobs: POST /jobs/users-exports, GET /jobs/{id} and the gzip file behind `location`.

Source: auth0/docs-v2 main/docs/manage-users/user-migration/bulk-user-exports.mdx — JSON exports are
NDJSON, the file is `<tenant>.<format>.gz`, field names may be paths such as `identities[0].connection`.
"""
import csv
import gzip
import io
import json
import re
import threading
import time

from emulators.auth0 import users as U
from emulators.auth0.api_users import body
from emulators.auth0.errors import Auth0Error, bad_body, wrong_type
from emulators.auth0.store import new_id, now_iso, primary_connection
from emulators.auth0.web import Reply

CONNECTION_ID = re.compile(r"^con_[A-Za-z0-9]{16}$")
# Fields GetJobResponseContent declares; the job record holds more (limit, fields, connection).
JOB_FIELDS = ("id", "type", "status", "created_at", "connection_id", "format", "location", "percentage_done",
              "time_left_seconds", "status_details", "summary")


def create_export(emu, req):
    """POST /jobs/users-exports: snapshot the users now, build the file in the background."""
    payload = _check_export(body(req, optional=True))
    cid = payload.get("connection_id")
    with emu.store.lock:
        conn = emu.store.connection_by_id(cid) if cid else None
        if cid and conn is None:
            raise Auth0Error(400, "The connection does not exist.", "inexistent_connection")
        rows = [U.public(u) for u in emu.store.users.values() if conn is None or primary_connection(u) == conn["name"]]
        job = {"id": new_id("job_"), "type": "users_export", "status": "pending", "created_at": now_iso(),
               "format": payload.get("format", "json"), "connection": conn["name"] if conn else "all"}
        for key in ("connection_id", "limit", "fields"):
            if key in payload:
                job[key] = payload[key]
        record = dict(job, _ready=threading.Event(), _data=None, _polls=0, _expires=None)
        emu.store.jobs[job["id"]] = record
    rows = rows[:payload["limit"]] if "limit" in payload else rows
    threading.Thread(target=_build, args=(record, rows), daemon=True, name=f"export-{job['id']}").start()
    return Reply(200, job)


def _check_export(payload):
    """Validate the export body against CreateExportUsersRequestContent."""
    U.check_payload(payload, {"connection_id": str, "format": str, "limit": int, "fields": list})
    if "connection_id" in payload and not CONNECTION_ID.match(payload["connection_id"]):
        raise bad_body(f"'String does not match pattern {CONNECTION_ID.pattern}: {payload['connection_id']}' "
                       "on property connection_id.")
    if payload.get("format", "json") not in ("json", "csv"):
        raise bad_body(f"'No enum match for: \"{payload['format']}\"' on property format.")
    if "limit" in payload and payload["limit"] < 1:
        raise bad_body(f"'Value {payload['limit']} is less than minimum 1' on property limit.")
    for item in payload.get("fields", []):
        if not isinstance(item, dict):
            raise wrong_type("fields", "object", item)
        U.check_payload(item, {"name": str, "export_as": str})
        if "name" not in item:
            raise bad_body("'Missing required property: name' on property fields.")
    return payload


def _build(record, rows):
    """Render NDJSON or CSV, gzip it, and mark the job ready."""
    fields = record.get("fields")
    if record["format"] == "csv":
        data = _csv(rows, fields or [{"name": "user_id"}, {"name": "email"}, {"name": "name"}])
    else:
        lines = (json.dumps(_project(row, fields) if fields else row, separators=(",", ":")) for row in rows)
        data = ("\n".join(lines) + ("\n" if rows else "")).encode()
    record["_data"] = gzip.compress(data, compresslevel=5)
    record["_count"] = len(rows)
    record["_ready"].set()


def _project(row, fields):
    """The exported object: each field under its `export_as` name (or its own)."""
    out = {}
    for item in fields:
        found = lookup(row, item["name"])
        if found is not None:
            out[item.get("export_as") or item["name"]] = found
    return out


def _csv(rows, fields):
    """CSV with a header of export names; objects are JSON-encoded."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([f.get("export_as") or f["name"] for f in fields])
    for row in rows:
        values = [lookup(row, f["name"]) for f in fields]
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, (dict, list))
                         else str(v).lower() if isinstance(v, bool) else v for v in values])
    return buf.getvalue().encode()


def lookup(obj, path):
    """Value at a path like `identities[0].connection` or `app_metadata.plan`, or None."""
    node = obj
    for part in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path):
        index, key = part
        if index:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        else:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def get_job(emu, req, id):
    """GET /jobs/{id}: `pending` at least for the first poll(s), then `completed` with `location`."""
    with emu.store.lock:
        record = emu.store.jobs.get(id)
        if record is None:
            raise Auth0Error(404, "The job does not exist.", "inexistent_job")
        record["_polls"] += 1
        done = record["_ready"].is_set() and record["_polls"] > emu.knobs["job_pending_polls"]
        out = {k: record[k] for k in JOB_FIELDS if k in record}
        if not done:
            return Reply(200, dict(out, status="pending", percentage_done=0))
        record["status"] = "completed"
        ttl = emu.knobs["export_link_ttl_s"]
        record["_expires"] = time.time() + ttl if ttl else None
        tenant = emu.config.domain.split(".")[0]
        query = f"?Expires={int(record['_expires'])}" if ttl else ""
        location = f"{req.host_url}user-exports/{id}/{tenant}.{record['format']}.gz{query}"
        return Reply(200, dict(out, status="completed", location=location, percentage_done=100))


def download(emu, req, id, filename):
    """The export file, gzip-compressed as Auth0's S3 link serves it (not a Content-Encoding)."""
    with emu.store.lock:
        record = emu.store.jobs.get(id)
    if record is None or record["_data"] is None or record["status"] != "completed":
        return Reply(404, raw=b"<Error><Code>NoSuchKey</Code></Error>", content_type="application/xml")
    if record["_expires"] is not None and time.time() > record["_expires"]:
        return Reply(403, raw=b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                     content_type="application/xml")
    headers = {"Content-Disposition": f"attachment; filename={filename}"}
    return Reply(200, raw=record["_data"], headers=headers, content_type="application/gzip")
