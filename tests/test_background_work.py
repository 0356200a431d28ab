"""Clinic-wide recomputes in the background (issue 13): crash, concurrency and many-writer claims.

These run real separate processes (tests/probe.py) against one shared database: the PostgreSQL test database
when the suite runs on PostgreSQL (CI's second run), else a file-based SQLite database (the embedded default).
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def probe(transactional_db, tmp_path):
    """Run `python -m tests.probe ...` in a separate process against a database shared with the others.

    On PostgreSQL the test database itself (transactional_db: committed, so other processes see it, and
    emptied afterwards); SQLite's test database is in memory, so there a file of the test's own.
    """
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        url = f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    else:
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}

    def command(*args: str) -> list[str]:
        return [sys.executable, "-m", "tests.probe", *args]

    def run(*args: str) -> dict:
        done = subprocess.run(command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(command(*args), env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)

    run.start = start
    run.env = env
    return run


def test_a_worker_killed_mid_recompute_loses_nothing_and_the_next_run_finishes(probe):
    probe("setup", "30")
    change = probe("outdate")
    assert change["outdated"] == 30 and change["moving"] > 0
    before = probe("status")
    assert before["stale"] == 30 and before["mismatched"] > 0  # the closure is not in the stored schedules yet
    worker = probe.start("work", "--hang-after", "2")  # two batches of 5 commit, the third hangs
    lines = []
    for line in worker.stdout:
        lines.append(json.loads(line))
        if "hanging" in lines[-1]:
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    worker.stdout.close()
    assert lines[-1]["hanging"]
    after_crash = probe("status")
    assert after_crash["stale"] == 20  # the killed batch rolled back: still out of date, nothing half-written
    assert probe("work") == {"recomputed": 20}
    assert probe("status") == {"stale": 0, "plans": 30, "mismatched": 0, "closures": 1}


def test_two_workers_on_one_queue_recompute_each_plan_once(probe, tmp_path):
    probe("setup", "40")
    assert probe("outdate")["outdated"] == 40
    log = tmp_path / "recomputed.txt"
    workers = [probe.start("work", "--log", str(log)) for _ in range(2)]
    results = [json.loads(w.communicate(timeout=300)[0].strip().splitlines()[-1]) for w in workers]
    recomputed = log.read_text().split()
    assert len(recomputed) == 40 and len(set(recomputed)) == 40  # every plan, none twice
    assert sum(r["recomputed"] for r in results) == 40
    assert probe("status")["stale"] == 0 and probe("status")["mismatched"] == 0


def test_a_fill_recorded_during_a_clinic_wide_recompute_waits_and_is_kept(probe):
    probe("setup", "20")
    probe("outdate")
    result = probe("during")
    assert result["kept"]
    assert probe("status") == {"stale": 0, "plans": 20, "mismatched": 0, "closures": 1}


def test_twenty_simultaneous_fills_and_twenty_closures_end_without_errors(probe):
    probe("setup", "20")
    result = probe("concurrent", "20")
    assert result == {"errors": [], "fills": 20, "closures": 20}
