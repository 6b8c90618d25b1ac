#!/usr/bin/env python3
"""Soak test (not run in CI): mixed reads and writes from many clients
against gunicorn + PostgreSQL for a long while, with the background worker
killed (SIGKILL) and started again every few minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/soak \\
        .venv/bin/python scripts/soak.py --minutes 30 --clients 20

It migrates that database, seeds a demo office (devtools' `seed_demo`,
`--accounts` big), starts gunicorn and one `db_worker`, and runs the
clients: each signs in as the office's admin (both steps, CSRF and all) and
loops over the usage list (search, sort, pages), the detail pane, user
management, the audit log, small exports, sub-account add + delete and
account renames, plus now and then a roster export big enough for the
background worker, whose progress page it polls until the file is ready or
the job failed. At the end it reports requests, errors by status, latency
percentiles, the export jobs' outcome, and what `reconcile_usage` says
about drift (goal: 0 x 5xx, every export done, no drift).

Nothing here is imported by the product or the tests.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")


def manage(env, *args, capture=False) -> str:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=capture,
        text=True,
    )
    return result.stdout if capture else ""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.server_errors: list[str] = []
        self.exports: Counter[str] = Counter()

    def add(self, what: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1
            if status >= 500 or status == 0:
                self.server_errors.append(f"{status} {what}")


class Client:
    """One signed-in admin: a cookie jar, CSRF from the cookie."""

    def __init__(self, base: str, domain: str, password: str, stats: Stats):
        self.base, self.domain, self.stats = base, domain, stats
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()
        )
        self.password = password
        self.last_location = ""

    def csrf(self) -> str:
        for cookie in self.jar:
            if cookie.name.endswith("csrftoken"):
                return cookie.value
        return ""

    def request(self, method: str, path: str, data: dict | None = None, htmx=False):
        url = self.base + path
        body = urllib.parse.urlencode(data or {}).encode() if method == "POST" else None
        request = urllib.request.Request(url, data=body, method=method)
        if method == "POST":
            request.add_header("X-CSRFToken", self.csrf())
            request.add_header("Referer", self.base + "/")
        if htmx:
            request.add_header("HX-Request", "true")
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=120) as response:
                content = response.read()
                status = response.status
        except urllib.error.HTTPError as error:  # 3xx too: redirects are not followed
            content = error.read()
            status = error.code
            self.last_location = error.headers.get("Location", "")
        except Exception as error:  # a refused or dropped connection counts as a failure
            content, status = repr(error).encode(), 0
        self.stats.add(f"{method} {path}", status, time.perf_counter() - started)
        return status, content

    def sign_in(self) -> None:
        login = f"/{self.domain}/login/"
        self.request("GET", login)
        self.request("POST", login, {"login_id": "admin"})
        status, _ = self.request("POST", login, {"login_id": "admin", "password": self.password})
        if status != 302:
            raise SystemExit(f"could not sign in (status {status})")


def client_loop(client: Client, ids: list[str], until: float, big_every: float, seed: int):
    rng = random.Random(seed)
    client.sign_in()
    manage_root = f"/{client.domain}/manage"
    usage = f"{manage_root}/mail/accounts/"
    next_big = time.monotonic() + rng.uniform(0, big_every)
    while time.monotonic() < until:
        login_id = rng.choice(ids)
        choice = rng.random()
        if time.monotonic() >= next_big:
            next_big = time.monotonic() + big_every
            run_big_export(client, usage, until)
        elif choice < 0.35:
            query = {
                "q": rng.choice(["", "kim", "lee", "team", "a", login_id[:3]]),
                "sort": rng.choice(["name", "-usage", "login_id", "-last_access"]),
                "page": rng.randint(1, 5),
                "per_page": rng.choice([20, 50, 100]),
            }
            client.request(
                "GET", usage + "?" + urllib.parse.urlencode(query), htmx=rng.random() < 0.5
            )
        elif choice < 0.55:
            client.request("GET", f"{usage}{login_id}/", htmx=True)
        elif choice < 0.65:
            client.request("GET", f"{manage_root}/users/?q={login_id[:2]}")
        elif choice < 0.72:
            client.request("GET", f"{manage_root}/audit/")
        elif choice < 0.77:
            client.request("GET", f"{usage}export.xlsx?q={login_id}")
        elif choice < 0.92:
            local = f"soak{rng.randint(0, 10**6)}"
            status, _ = client.request(
                "POST", f"{usage}{login_id}/subaccounts/", {"local_part": local}, htmx=True
            )
            if status == 200:
                client.request(
                    "POST", f"{usage}{login_id}/subaccounts/{local}/delete/", {}, htmx=True
                )
        else:
            status, content = client.request("GET", f"{manage_root}/users/{login_id}/")
            if status == 200:
                page = content.decode("utf-8", "replace")
                state = re.search(r'name="status" value="(\w+)"[^>]*checked', page)
                client.request(
                    "POST",
                    f"{manage_root}/users/{login_id}/",
                    {
                        "name": f"Soak {rng.randint(0, 999)}",
                        "status": state.group(1) if state else "active",
                        "pop3_enabled": "on",
                        "smtp_enabled": "on",
                    },
                )


def run_big_export(client: Client, usage: str, until: float) -> None:
    """A whole-office export (background above the threshold): poll the
    progress fragment until done or failed."""
    status, _ = client.request("GET", f"{usage}export.xlsx")
    if status != 302:
        return  # small office: it was a direct download
    jobs = re.findall(r"/exports/([0-9a-f-]{36})/", client.last_location)
    if not jobs:
        return
    job_url = f"{usage}exports/{jobs[0]}/progress/"
    deadline = min(until + 600, time.monotonic() + 900)
    while time.monotonic() < deadline:
        status, content = client.request("GET", job_url, htmx=True)
        text = content.decode("utf-8", "replace")
        if "hx-trigger" not in text:
            outcome = "done" if "/download/" in text else "failed"
            with client.stats.lock:
                client.stats.exports[outcome] += 1
            return
        time.sleep(2)
    with client.stats.lock:
        client.stats.exports["unfinished"] += 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--kill-every", type=float, default=300, help="seconds between worker kills"
    )
    parser.add_argument("--big-export-every", type=float, default=240, help="seconds, per client")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--domain", default="soak.example")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database (it is migrated and seeded)")
    password = "soak-" + secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "DEBUG": "1",
        "MAILADMIN_DEVTOOLS": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Big exports go to the worker well before the whole office.
        "MAILADMIN_EXPORT_BACKGROUND_ROWS": str(max(100, args.accounts // 4)),
        "MAILADMIN_EXPORT_PROGRESS_ROWS": "200",
        "MAILADMIN_EXPORT_CHUNK_PAUSE": "0.2",
        # Every client signs in from 127.0.0.1; none fails, but keep clear.
        "LOGIN_IP_FAILURE_LIMIT": "1000",
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", str(ROOT / "data" / "soak-media")),
    }
    print("migrating and seeding …", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    manage(
        env,
        "seed_demo",
        "--if-missing",
        "--domain",
        args.domain,
        "--accounts",
        str(args.accounts),
        "--admin-password",
        password,
    )
    ids = json.loads(
        manage(
            env,
            "shell",
            "-c",
            "import json; from accounts.models import Account; print(json.dumps(list("
            f"Account.objects.filter(office__domain='{args.domain}', kind='user', "
            "mailbox__isnull=False).exclude(login_id='admin').values_list('login_id', flat=True)[:500])))",
            capture=True,
        )
        .strip()
        .splitlines()[-1]
    )
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            GUNICORN,
            "mailadmin.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(args.gunicorn_workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    worker_command = [
        PYTHON,
        str(ROOT / "manage.py"),
        "db_worker",
        "--no-reload",
        "--interval",
        "0.5",
    ]
    worker = subprocess.Popen(worker_command, env=env, cwd=ROOT, start_new_session=True)
    kills = 0
    stats = Stats()
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except Exception:
                time.sleep(1)
        started = time.monotonic()
        until = started + args.minutes * 60
        threads = []
        for n in range(args.clients):
            client = Client(base, args.domain, password, stats)
            thread = threading.Thread(
                target=client_loop, args=(client, ids, until, args.big_export_every, n), daemon=True
            )
            thread.start()
            threads.append(thread)
        next_kill = started + args.kill_every
        while time.monotonic() < until:
            time.sleep(1)
            if time.monotonic() >= next_kill:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                kills += 1
                print(
                    f"[{(time.monotonic() - started) / 60:.1f} min] worker killed; starting another",
                    flush=True,
                )
                worker = subprocess.Popen(worker_command, env=env, cwd=ROOT, start_new_session=True)
                next_kill += args.kill_every
        for thread in threads:
            thread.join(timeout=900)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
        server.wait(timeout=30)

    drift = manage(env, "reconcile_usage", "--domain", args.domain, capture=True).strip()
    jobs = (
        manage(
            env,
            "shell",
            "-c",
            "from collections import Counter; from accounts.models import ExportJob; "
            f"print(dict(Counter(ExportJob.objects.filter(office__domain='{args.domain}').values_list('status', flat=True))))",
            capture=True,
        )
        .strip()
        .splitlines()[-1]
    )
    latencies = stats.latencies
    report = {
        "minutes": round(elapsed / 60, 1),
        "clients": args.clients,
        "worker_kills": kills,
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0,
        "statuses": dict(sorted(stats.statuses.items())),
        "server_errors": len(stats.server_errors),
        "first_server_errors": stats.server_errors[:20],
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0,
        "big_exports_seen_by_clients": dict(stats.exports),
        "export_jobs_by_status": jobs,
        "reconcile_usage": drift.splitlines()[-1] if drift else "",
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 1 if stats.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
