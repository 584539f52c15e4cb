"""docker-compose.yml cannot run here (no Docker engine); check what can be checked without one."""
import os

import yaml

from service.sandbox import ROOT


def test_compose_wires_the_real_entry_points_and_settings():
    with open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    services = doc["services"]
    assert {"setup", "web", "worker", "postgres", "redis"} <= set(services)
    assert "requirements.txt" in services["setup"]["command"]
    assert services["worker"]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert "service:create_app()" in services["web"]["command"] and "gunicorn.conf.py" in services["web"]["command"]
    assert "-m service worker" in services["worker"]["command"]
    env = services["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgresql://") and env["QUEUE_URL"].startswith("redis://")
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as fh:
        assert "gunicorn==" in fh.read()
