"""Production (issue 13): the release steps, and two app servers plus two workers on one database and Redis.

Everything here runs as production does, in separate processes: collectstatic into a fresh STATIC_ROOT (the
WhiteNoise manifest), `check --deploy` refusing unsafe settings, gunicorn behind a TLS-terminating proxy
(X-Forwarded-Proto), `manage.py worker --loop`. The database is the one `probe` shares: PostgreSQL in CI's
PostgreSQL run, else a file-based SQLite database. Redis is the local one (REDIS_URL, else database 3), with a
key prefix of its own so runs never share counters.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from tests.test_background_work import probe  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def production_env(base: dict, tmp_path: Path) -> dict:
    env = {k: v for k, v in base.items() if k not in ("DEBUG", "SECURE_SSL_REDIRECT", "SECURE_COOKIES",
                                                         "PUMPCARE_PLAIN_STATIC", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        SECRET_KEY="production-like-" + uuid.uuid4().hex + uuid.uuid4().hex,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL="1",  # the load balancer terminates TLS and says so
        STATIC_ROOT=str(tmp_path / "static"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        REDIS_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        # Exact feed rate limits across servers (the default 1 s of local counts may overshoot by a few).
        FEED_LOCAL_SECONDS="0",
    )
    return env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """Cookies and CSRF by hand over http.client, as a browser behind the HTTPS load balancer would send them."""

    def __init__(self):
        self.cookies: dict[str, str] = {}

    def request(self, port: int, method: str, path: str, form: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"X-Forwarded-Proto": "https", "Host": f"127.0.0.1:{port}",
                   "Referer": f"https://127.0.0.1:{port}{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        connection.close()
        return response.status, response.headers, text


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        assert process.poll() is None, "gunicorn exited"
        try:
            status, _, _ = Browser().request(port, "GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("gunicorn did not come up")


def test_the_release_steps_refuse_an_unsafe_setting_and_name_it(probe, tmp_path):  # noqa: F811
    probe("setup", "1")
    env = production_env(probe.env, tmp_path)
    unsafe = manage({**env, "SECURE_HSTS_SECONDS": "0"}, "check", "--deploy", "--fail-level", "WARNING")
    assert unsafe.returncode != 0 and "SECURE_HSTS_SECONDS" in unsafe.stderr
    uncollected = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert uncollected.returncode != 0 and "collectstatic" in uncollected.stderr  # would be a 500 on every page
    assert manage(env, "collectstatic", "--noinput", "--verbosity", "0").returncode == 0
    checked = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr


def test_two_app_servers_and_two_workers_share_sessions_rate_limits_and_the_queue(probe, tmp_path):  # noqa: F811
    probe("setup", "20")
    people = probe("web")
    env = production_env(probe.env, tmp_path)
    assert manage(env, "collectstatic", "--noinput", "--verbosity", "0").returncode == 0
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen([str(GUNICORN), "pumpcare.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in ports
    ]
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "worker", "--loop", "--interval", "0.2"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_until_up(port, server)
        a, b = ports
        # Sessions: signed in on one app server, signed in on the other (sessions live in the database).
        browser = Browser()
        status, _, page = browser.request(a, "GET", "/accounts/login/")
        assert status == 200 and 'rel="stylesheet"' in page  # the page renders its CSS from the manifest
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _, _ = browser.request(
            a, "POST", "/accounts/login/",
            {"csrfmiddlewaretoken": token, "username": people["username"], "password": people["password"]},
        )
        assert status == 302, status
        status, _, home = browser.request(b, "GET", "/")
        assert status == 200 and "next refill" in home
        # Rate limits: one budget across both servers (Redis), not one each.
        feed = f"/feeds/{people['feed']}.ics"
        statuses = [Browser().request(ports[i % 2], "GET", feed)[0] for i in range(61)]
        assert statuses[:60] == [200] * 60 and statuses[60] == 429
        # The queue: a clinic-wide change is recomputed by the two workers, every plan once.
        assert probe("outdate")["outdated"] == 20
        for _ in range(600):
            if probe("status")["stale"] == 0:
                break
            time.sleep(0.2)
        assert probe("status") == {"stale": 0, "plans": 20, "mismatched": 0, "closures": 1}
    finally:
        for process in servers + workers:
            process.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60)[0] for w in workers]
        for server in servers:
            server.wait(timeout=60)
    # SIGTERM drains: each worker finished its unit of work and exited cleanly (not killed by the signal: -15).
    assert [w.returncode for w in workers] == [0, 0]
    done = sum(int(n) for out in outputs for n in re.findall(r"recompute_stale_plans: (\d+)", out))
    assert done == 20  # between them, each plan once

