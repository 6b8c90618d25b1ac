"""A private Postfix and Dovecot, configured from what ``mailserver_config``
prints, for end-to-end tests.

The printed files are installed as an operator would (README "Mail
servers"), with only what a private instance needs rewritten: paths under a
temporary directory instead of /etc, /var/spool/postfix and /var/vmail,
loopback listeners on free high ports, logs into files. On top of Debian's
stock configuration (copied from /etc), like on a real host: the printed
conf.d snippet, ``auth-system.conf.ext`` commented out and the auth cache
turned on, the two things README asks an operator to do by hand.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("dovecot", "doveadm", "postfix", "postconf", "postmap")


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED if shutil.which(name) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_vmail_user() -> None:
    """README's recipe, where the host has no vmail user yet."""
    try:
        pwd.getpwnam("vmail")
        return
    except KeyError:
        pass
    subprocess.run(["groupadd", "--system", "--gid", "5000", "vmail"], check=True)
    subprocess.run(
        [
            "useradd", "--system", "--uid", "5000", "--gid", "vmail",
            "--home-dir", "/var/vmail", "--shell", "/usr/sbin/nologin", "vmail",
        ],
        check=True,
    )  # fmt: skip


def split_files(text: str) -> dict[str, str]:
    """The printed text → {path: content}, cut at the '# ==> path <==' lines."""
    parts = re.split(r"^# ==> (.+) <==\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def wait_for(predicate, timeout: float = 15, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class MailServers:
    root: Path
    printed: str
    doveadm_port: int
    smtp_port: int = field(default_factory=free_port)
    pop3_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    # The console settings that point at these servers (MAIL_STORE, DOVEADM_*).
    store_settings: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root)
        self.etc_postfix = self.root / "etc/postfix"
        self.etc_dovecot = self.root / "etc/dovecot"
        self.spool = self.root / "spool"
        self.vmail = self.root / "vmail"
        self.logs = self.root / "log"
        self.run_dir = self.root / "run"

    # --- files -------------------------------------------------------------

    def private_path(self, text: str) -> str:
        return (
            text.replace("/etc/postfix/", f"{self.etc_postfix}/")
            .replace("/etc/dovecot/", f"{self.etc_dovecot}/")
            .replace("/var/spool/postfix", str(self.spool))
        )

    def install(self) -> None:
        for directory in (self.root / "etc", self.logs, self.run_dir, self.vmail, self.spool):
            directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree("/etc/dovecot", self.etc_dovecot, symlinks=True)
        shutil.copytree("/etc/postfix", self.etc_postfix, symlinks=True)
        # Only our files are wanted from the host's postfix/mailadmin (none
        # on a CI machine).
        shutil.rmtree(self.etc_postfix / "mailadmin", ignore_errors=True)
        (self.etc_postfix / "mailadmin").mkdir()
        main_cf_lines = ""
        for path, content in split_files(self.printed).items():
            content = self.private_path(content)
            if path.startswith("/etc/postfix/main.cf"):
                main_cf_lines = content
                continue
            target = Path(self.private_path(path))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            group = "postfix" if "/postfix/" in path else "dovecot"
            os.chown(target, 0, grp.getgrnam(group).gr_gid)
            target.chmod(0o640)
        self._install_dovecot()
        self._install_postfix(main_cf_lines)
        vmail = pwd.getpwnam("vmail")
        os.chown(self.vmail, vmail.pw_uid, vmail.pw_gid)
        # The Maildirs' parents must be reachable by the vmail user.
        for parent in self.root.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
        self.root.chmod(0o755)

    def _install_dovecot(self) -> None:
        conf_d = self.etc_dovecot / "conf.d"
        auth = conf_d / "10-auth.conf"
        # README: system accounts are no mail users; the auth cache is on.
        text = auth.read_text().replace(
            "!include auth-system.conf.ext", "#!include auth-system.conf.ext"
        )
        auth.write_text(text + "\nauth_cache_size = 10M\n")
        # No TLS on the loopback test ports (the host may lack Debian's
        # self-signed certificate).
        ssl = conf_d / "10-ssl.conf"
        ssl.write_text(re.sub(r"^(ssl_(cert|key) =)", r"#\1", ssl.read_text(), flags=re.M))
        (self.etc_dovecot / "dovecot.conf").write_text(
            (self.etc_dovecot / "dovecot.conf")
            .read_text()
            .replace("/etc/dovecot/", f"{self.etc_dovecot}/")
        )
        (conf_d / "99-zz-private.conf").write_text(
            f"""\
# A private instance: own run and state directories, loopback high ports.
base_dir = {self.run_dir}/dovecot
state_dir = {self.root}/state
instance_name = mailadmin-test-{self.doveadm_port}
log_path = {self.logs}/dovecot.log
listen = 127.0.0.1
ssl = no
protocols = imap pop3 lmtp
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""
        )
        (self.root / "state").mkdir(exist_ok=True)

    def _install_postfix(self, main_cf_lines: str) -> None:
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        postfix_user = pwd.getpwnam("postfix")
        os.chown(data, postfix_user.pw_uid, postfix_user.pw_gid)
        main_cf = self.etc_postfix / "main.cf"
        if not main_cf.exists():  # Postfix installed as "No configuration"
            main_cf.write_text("")
        private = f"""
# --- a private instance (tests) ---
queue_directory = {self.spool}
data_directory = {self.root}/data
maillog_file_prefixes = {self.logs}
maillog_file = {self.logs}/postfix.log
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mail.mailadmin.test
mydestination = localhost
mynetworks = 127.0.0.0/8
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_tls_cert_file =
smtpd_tls_key_file =
alias_maps =
alias_database =
compatibility_level = 3.6
"""
        # Debian's own entries for what is set below go (else every Postfix
        # command warns that they are overridden).
        ours = set(re.findall(r"^(\w+) =", private + main_cf_lines, flags=re.M))
        stock = "".join(
            entry
            for entry in re.findall(r"^[^\n]*\n(?:[ \t][^\n]*\n)*", main_cf.read_text(), flags=re.M)
            if entry.split("=")[0].strip() not in ours
        )
        main_cf.write_text(
            stock + private + "# --- printed by mailserver_config ---\n" + main_cf_lines
        )
        master = self.etc_postfix / "master.cf"
        master.write_text(
            re.sub(
                r"^smtp(\s+)inet\s",
                f"127.0.0.1:{self.smtp_port} inet ",
                master.read_text(),
                count=1,
                flags=re.M,
            )
        )

    # --- processes ---------------------------------------------------------

    def start(self) -> None:
        self.install()
        self.postfix("start")
        # Dovecot daemonizes: its output goes to a file, not to a pipe that
        # would stay open as long as it runs.
        startup = self.logs / "dovecot-startup.log"
        with startup.open("w") as out:
            started = subprocess.run(
                ["dovecot", "-c", str(self.etc_dovecot / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if started.returncode:
            raise RuntimeError(f"dovecot did not start: {startup.read_text()}{self.log('dovecot')}")
        for port, what in (
            (self.smtp_port, "Postfix smtpd"),
            (self.pop3_port, "Dovecot pop3"),
            (self.doveadm_port, "doveadm HTTP"),
        ):
            try:
                wait_for(lambda port=port: port_open(port), what=what)
            except TimeoutError as error:
                raise RuntimeError(
                    f"{error}\n{self.log('dovecot')}\n{self.log('postfix')}"
                ) from error

    def postfix(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["postfix", "-c", str(self.etc_postfix), *args], capture_output=True, text=True
        )
        if result.returncode:
            raise RuntimeError(f"postfix {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc_postfix), "stop"], capture_output=True)
        pid_file = self.run_dir / "dovecot/master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, what="dovecot")
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)

    def queued(self) -> list[Path]:
        return [
            p
            for queue in ("maildrop", "incoming", "active", "deferred", "hold")
            if (self.spool / queue).is_dir()
            for p in (self.spool / queue).rglob("*")
            if p.is_file()
        ]

    def drain(self, timeout: float = 10) -> None:
        """Let mail still on its way be delivered, then drop what is left
        (deferred mail would otherwise arrive during a later test)."""
        try:
            wait_for(lambda: not self.queued(), timeout=timeout, what="an empty queue")
        except TimeoutError:
            subprocess.run(
                ["postsuper", "-c", str(self.etc_postfix), "-d", "ALL"], capture_output=True
            )

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["doveadm", "-c", str(self.etc_dovecot / "dovecot.conf"), *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def log(self, which: str) -> str:
        path = self.logs / f"{which}.log"
        return path.read_text() if path.exists() else f"(no {which} log)"

    def maildir(self, domain: str, login_id: str) -> Path:
        return self.vmail / domain / login_id
