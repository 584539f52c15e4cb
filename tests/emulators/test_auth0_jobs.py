"""Auth0 emulator: user export jobs (NDJSON/CSV, gzip) and bulk seeding."""
import csv
import gzip
import io
import json
import time

import pytest

DB_ID = "con_sandboxdb0000001"


def _run_export(emu, body):
    """Create a job, poll until completed, download and gunzip the file."""
    created = emu.api("POST", "/jobs/users-exports", json=body)
    assert created.status_code == 200, created.json
    job_id = created.json["id"]
    first = emu.api("GET", f"/jobs/{job_id}").json
    assert first["status"] == "pending"
    for _ in range(200):
        job = emu.api("GET", f"/jobs/{job_id}").json
        if job["status"] == "completed":
            break
        emu.app.store.jobs[job_id]["_ready"].wait(0.05)
    assert job["status"] == "completed", job
    assert job["location"].endswith(f"/{job_id}/sandbox.{body.get('format', 'json')}.gz")
    download = emu.http.get(job["location"])
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/gzip"
    return created.json, gzip.decompress(download.data).decode()


def test_json_export_round_trip(emu):
    emu.create_user("a@example.com", app_metadata={"office365UPN": "a@partners.contoso.com"})
    emu.seed({"connection": "google-oauth2", "email": "g@gmail.com"})
    created, text = _run_export(emu, {"format": "json", "connection_id": DB_ID, "fields": [
        {"name": "user_id"}, {"name": "email"}, {"name": "app_metadata"},
        {"name": "identities[0].connection", "export_as": "connection"}]})
    assert created["type"] == "users_export" and created["connection"] == "Username-Password-Authentication"
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 1 and text.endswith("\n")
    assert rows[0]["email"] == "a@example.com" and rows[0]["connection"] == "Username-Password-Authentication"
    assert rows[0]["app_metadata"] == {"office365UPN": "a@partners.contoso.com"}


def test_export_without_fields_has_whole_users_and_honours_limit(emu):
    emu.control("POST", "users/bulk", json={"count": 30, "prefix": "e"})
    _, text = _run_export(emu, {"format": "json", "limit": 7})
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 7 and all(r["user_id"].startswith("auth0|") and r["identities"] for r in rows)


def test_csv_export(emu):
    emu.create_user("c@example.com", app_metadata={"plan": "gold"})
    _, text = _run_export(emu, {"format": "csv", "fields": [{"name": "email", "export_as": "Email"},
                                                             {"name": "app_metadata.plan"}]})
    assert list(csv.reader(io.StringIO(text))) == [["Email", "app_metadata.plan"], ["c@example.com", "gold"]]


@pytest.mark.parametrize("body, status", [
    ({"connection_id": "con_doesnotexist0001"}, 400), ({"connection_id": "con_short"}, 400),
    ({"format": "xml"}, 400), ({"fields": [{"export_as": "x"}]}, 400), ({"limit": 0}, 400),
    ({"fields": "email"}, 400),
])
def test_export_validation(emu, body, status):
    assert emu.api("POST", "/jobs/users-exports", json=body).status_code == status


def test_unknown_job_and_expired_link(emu):
    assert emu.api("GET", "/jobs/job_doesnotexist0000").json["errorCode"] == "inexistent_job"
    emu.control("PATCH", "config", json={"export_link_ttl_s": 0.0001})
    created = emu.api("POST", "/jobs/users-exports", json={"format": "json"}).json
    emu.app.store.jobs[created["id"]]["_ready"].wait(5)
    emu.api("GET", f"/jobs/{created['id']}")
    job = emu.api("GET", f"/jobs/{created['id']}").json
    assert "Expires=" in job["location"]
    time.sleep(0.01)  # let the 0.1 ms link lifetime pass
    assert emu.http.get(job["location"]).status_code == 403


def test_bulk_seed_is_visible_to_search_and_state(emu):
    got = emu.control("POST", "users/bulk", json={"count": 250, "connection": "google-oauth2", "prefix": "b"})
    assert got == {"created": 250, "total": 250}
    page = emu.api("GET", "/users", query_string={"q": 'identities.connection:"google-oauth2"',
                                                  "include_totals": "true", "per_page": 1}).json
    assert page["total"] == 250
