"""import_maillog --follow: a real process following real files (appends,
rotation, truncation, kill -9 and restart) and a stream on stdin."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Sum

from accounts.models import AccessLog, Mailbox
from devtools.bench import child_env

pytestmark = pytest.mark.django_db(transaction=True)

KR = "211.234.10.20"


class Lines:
    """POP3 logins of minjun.kim, each with its own session, a second apart
    and ending a little before now (the importer reads them in real time)."""

    def __init__(self):
        self.n = 0
        self.start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)

    def next(self, count: int = 1, ip: str = KR) -> str:
        out = []
        for _ in range(count):
            self.n += 1
            at = (self.start + dt.timedelta(seconds=self.n)).isoformat()
            out.append(
                f"{at} mail dovecot: pop3-login: Login: user=<minjun.kim>, method=PLAIN, "
                f"rip={ip}, lip=10.0.0.5, session=<follow{self.n:06d}>\n"
            )
        return "".join(out)


def logins(account) -> int:
    return AccessLog.objects.filter(account=account).aggregate(n=Sum("count"))["n"] or 0


def wait_for(predicate, timeout: float = 15.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError("timed out")


def start(*args, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "import_maillog",
            "--domain",
            "gabiaedu.com",
            "--follow",
            *args,
        ],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.fixture
def follower():
    started = []

    def launch(*args, **popen):
        process = start(*args, **popen)
        started.append(process)
        return process

    yield launch
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()


def test_appended_lines_reach_the_list_within_seconds(org, tmp_path, follower):
    path = tmp_path / "mail.log"
    lines = Lines()
    path.write_text(lines.next(3))
    process = follower(str(path))
    wait_for(lambda: logins(org.kim) == 3)

    append(path, lines.next(2))
    took = wait_for(lambda: logins(org.kim) == 5)

    assert took < 5
    newest = lines.start + dt.timedelta(seconds=5)
    assert Mailbox.objects.get(account=org.kim).last_access_at == newest
    out = stop(process)
    assert "imported: 5" in out


def test_rotation_and_truncation_lose_nothing_and_add_nothing(org, tmp_path, follower):
    path = tmp_path / "mail.log"
    lines = Lines()
    path.write_text(lines.next(4))
    process = follower(str(path), str(tmp_path / "mail.log.1"))
    wait_for(lambda: logins(org.kim) == 4)

    # logrotate's create mode: the last lines go to the old file, it is
    # renamed, a new file takes its name.
    append(path, lines.next(2))
    path.rename(tmp_path / "mail.log.1")
    path.write_text(lines.next(3))
    wait_for(lambda: logins(org.kim) == 9)

    # copytruncate mode: copied away, then emptied and written again.
    (tmp_path / "mail.log.2").write_bytes(path.read_bytes())
    with path.open("w", encoding="utf-8") as handle:
        handle.truncate(0)
    time.sleep(0.5)
    append(path, lines.next(2))
    wait_for(lambda: logins(org.kim) == 11)
    stop(process)

    # Importing every file once more afterwards adds nothing.
    from django.core.management import call_command

    call_command(
        "import_maillog",
        "--domain",
        "gabiaedu.com",
        str(tmp_path / "mail.log.2"),
        str(tmp_path / "mail.log.1"),
        str(path),
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )
    assert logins(org.kim) == 11


def test_a_killed_follower_resumes_without_duplicates_or_gaps(org, tmp_path, follower):
    path = tmp_path / "mail.log"
    lines = Lines()
    path.write_text(lines.next(50))
    process = follower(str(path))
    wait_for(lambda: logins(org.kim) >= 50)
    # Lines keep coming while it is killed and while it is down.
    append(path, lines.next(30))
    process.send_signal(signal.SIGKILL)
    process.communicate()
    append(path, lines.next(20))

    follower(str(path))

    wait_for(lambda: logins(org.kim) == 100)
    time.sleep(1.5)  # nothing more arrives later
    assert logins(org.kim) == 100


def test_a_stream_on_stdin_is_committed_while_it_flows_and_replays_are_skipped(org, follower):
    lines = Lines()
    first = lines.next(5)
    process = follower("-", stdin=subprocess.PIPE)
    process.stdin.write(first)
    process.stdin.flush()
    took = wait_for(lambda: logins(org.kim) == 5)
    assert took < 5
    process.stdin.close()
    assert process.wait(timeout=20) == 0

    # journalctl -f starts again with the last lines it showed.
    process = follower("-", stdin=subprocess.PIPE)
    process.stdin.write(first[-3 * len(first) // 5 :] + lines.next(2))
    process.stdin.close()
    process.wait(timeout=20)
    assert logins(org.kim) == 7
