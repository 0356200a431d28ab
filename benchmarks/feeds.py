"""Benchmark: a calendar feed's throughput against a hello-world view, on gunicorn + PostgreSQL + Redis.

    .venv/bin/python benchmarks/feeds.py [--rounds 6] [--seconds 4] [--connections 4]

Starts everything itself: PostgreSQL (the local cluster, if not running) with its own database `feedsbench`
(dropped and made again), Redis database 4 (emptied), gunicorn with 2 sync workers on 127.0.0.1:18401 serving
benchmarks/feeds_settings.py (the product's settings and middleware, plus /bench-hello/), and wrk (from
Debian: `apt-get install wrk`, done here if missing). The demo patient gets a detailed calendar link (about 55
events). Each round runs, back to back, the hello view, the full 200 feed and the 304 feed (If-None-Match),
each round starting with the next of the three; it prints each round, the medians, the median of each round's
ratio against hello (targets: 200 >= 0.8x, 304 >= 0.9x) and the machine's load. Numbers depend on the machine:
a script that prints them, not a timed test.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 18401
DATABASE = "feedsbench"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/4"
TARGETS = {"200": 0.8, "304": 0.9}


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.feeds_settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "DATABASE_CONN_MAX_AGE": "600",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "PUMPCARE_PLAIN_STATIC": "1",
        "LOG_LEVEL": "WARNING",
    }


def run(*command: str, env=None, check=True, capture=False) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, check=check, text=True, capture_output=capture, cwd=ROOT)


def ensure_services() -> None:
    if not shutil.which("wrk"):
        run("apt-get", "install", "-y", "-qq", "wrk")
    if run("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", check=False).returncode != 0:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start")
        for _ in range(30):
            if run("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", check=False).returncode == 0:
                break
            time.sleep(1)
    if run("redis-cli", "ping", check=False, capture=True).stdout.strip() != "PONG":
        run("redis-server", "--daemonize", "yes")
        time.sleep(1)


def prepare() -> str:
    """A fresh database with the demo data and a detailed link for the demo patient; returns the link's token."""
    run("psql", POSTGRES + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE}")
    run("psql", POSTGRES + "/postgres", "-qc", f"CREATE DATABASE {DATABASE}")
    run("redis-cli", "-n", "4", "flushdb", capture=True)
    env = {**environment(), "DEBUG": "1"}  # the demo command is for development databases
    python = sys.executable
    run(python, "manage.py", "migrate", "-v0", env=env)
    run(python, "manage.py", "demo", env=env, capture=True)
    script = (
        "import django; django.setup()\n"
        "from feeds import subscriptions\n"
        "from patients.models import Patient\n"
        "from schedules.management.commands.demo import ACCOUNTS\n"
        "patient = Patient.objects.get(user__username=ACCOUNTS['patient'][0])\n"
        "_, token = subscriptions.subscription_create(\n"
        "    patient=patient, name='Bench', detail='detailed', by=patient.user)\n"
        "print(token)\n"
    )
    return run(python, "-c", script, env=env, capture=True).stdout.strip().splitlines()[-1]


def start_gunicorn() -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "pumpcare.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{PORT}",
         "--log-level", "warning"],
        env=environment(), cwd=ROOT, start_new_session=True,
    )
    for _ in range(60):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/bench-hello/", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def wrk(url: str, *, seconds: int, connections: int, headers=()) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = run(*command, url, capture=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} error answers\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4)
    options = parser.parse_args()
    ensure_services()
    token = prepare()
    server = start_gunicorn()
    try:
        base = f"http://127.0.0.1:{PORT}"
        feed = f"{base}/feeds/{token}.ics"
        with urllib.request.urlopen(feed) as response:
            etag, size = response.headers["ETag"], len(response.read())
        events = urllib.request.urlopen(feed).read().count(b"BEGIN:VEVENT")
        print(f"feed: {events} events, {size} bytes; gunicorn 2 sync workers; wrk {options.connections} connections, "
              f"{options.seconds} s per run; load before: {os.getloadavg()}")
        # Warm both workers (connections, imports, the cached answer).
        wrk(f"{base}/bench-hello/", seconds=2, connections=options.connections)
        wrk(feed, seconds=2, connections=options.connections)
        runs = {
            "hello": lambda: wrk(f"{base}/bench-hello/", seconds=options.seconds, connections=options.connections),
            "200": lambda: wrk(feed, seconds=options.seconds, connections=options.connections),
            "304": lambda: wrk(feed, seconds=options.seconds, connections=options.connections,
                               headers=[f"If-None-Match: {etag}"]),
        }
        results = {kind: [] for kind in runs}
        for number in range(1, options.rounds + 1):
            # Each round starts with the next kind, so none always runs first (or last) in a round.
            kinds = list(runs)
            for kind in kinds[number % 3:] + kinds[:number % 3]:
                results[kind].append(runs[kind]())
            print(f"round {number}: hello {results['hello'][-1]:.0f} req/s, 200 {results['200'][-1]:.0f} req/s, "
                  f"304 {results['304'][-1]:.0f} req/s")
        hello = statistics.median(results["hello"])
        print(f"median hello: {hello:.0f} req/s")
        for kind, target in TARGETS.items():
            median = statistics.median(results[kind])
            # Each round's ratio compares runs seconds apart, so a change in the machine's load hits both.
            ratio = statistics.median(a / b for a, b in zip(results[kind], results["hello"], strict=True))
            verdict = "meets" if ratio >= target else "BELOW"
            print(f"median {kind}: {median:.0f} req/s; median of the rounds' ratios: {ratio:.2f}x hello "
                  f"({verdict} the {target}x target)")
        print(f"load average after: {os.getloadavg()}; cores: {os.cpu_count()}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
