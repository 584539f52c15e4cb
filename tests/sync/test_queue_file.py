"""The SQLite job queue: processes that open a new queue file at the same moment all get it."""
import multiprocessing
import os

from service import jobs


def _open(url, barrier, answers):
    barrier.wait()
    try:
        jobs.make_queue(url).storage.close()
        answers.put("ok")
    except Exception as error:  # noqa: BLE001 (the answer is what the test reads)
        answers.put(repr(error))


def test_processes_opening_a_new_queue_file_at_once_all_get_it(tmp_path):
    """Web workers boot together: before the open was serialised, ~7 % of such opens failed with
    "database is locked" (turning a new file to WAL takes all of it), and gunicorn stopped."""
    fork = multiprocessing.get_context("fork")
    answers = []
    for trial in range(30):
        url = f"sqlite:///{tmp_path}/q{trial}/queue.db"
        barrier, queue = fork.Barrier(8), fork.Queue()
        procs = [fork.Process(target=_open, args=(url, barrier, queue)) for _ in range(8)]
        for proc in procs:
            proc.start()
        answers += [queue.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(30)
    assert answers == ["ok"] * 240, [a for a in answers if a != "ok"][:3]
    assert os.path.exists(f"{tmp_path}/q0/queue.db")
