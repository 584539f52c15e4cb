"""gunicorn.conf.py: metrics housekeeping (files of dead processes go at start, live ones stay), and no access
line built by gunicorn (the app writes its own)."""
import importlib.util
import os

from gunicorn import glogging
from gunicorn.config import Config

from service.sandbox import ROOT


def load_conf(monkeypatch, folder):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))  # so loading it sets nothing for others
    spec = importlib.util.spec_from_file_location("gunicorn_conf", os.path.join(ROOT, "gunicorn.conf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_files_of_dead_processes_are_forgotten(monkeypatch, tmp_path):
    conf = load_conf(monkeypatch, tmp_path)
    dead = 2 ** 22 + 12345  # above the kernel's largest pid
    for name in (f"counter_{os.getpid()}.db", f"histogram_{dead}.db", f"gauge_mostrecent_{dead}.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    conf._forget_dead_processes(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted([f"counter_{os.getpid()}.db", "notes.txt"])


def test_a_missing_folder_is_made(monkeypatch, tmp_path):
    conf = load_conf(monkeypatch, tmp_path)
    conf._forget_dead_processes(str(tmp_path / "metrics"))
    assert (tmp_path / "metrics").is_dir()



def _builds_access_line(logger_class, logconfig_dict, monkeypatch):
    cfg = Config()
    cfg.set("logconfig_dict", logconfig_dict)  # with a logconfig, gunicorn's own Logger builds the line
    logger, built = logger_class(cfg), []
    monkeypatch.setattr(logger, "atoms", lambda *a: built.append(a) or {})
    logger.access(None, None, {}, None)
    return bool(built)


def test_gunicorn_builds_no_access_line_of_its_own(monkeypatch, tmp_path):
    conf = load_conf(monkeypatch, tmp_path)
    assert _builds_access_line(glogging.Logger, conf.logconfig_dict, monkeypatch)  # what the subclass saves
    assert not _builds_access_line(conf.logger_class, conf.logconfig_dict, monkeypatch)
