"""A throwaway Dovecot IMAP server in a temporary folder, for the tests and the benchmarks.

Debian's `dovecot-imapd` runs with a configuration of its own (never /etc/dovecot): one user in
a password file, maildirs under the folder, plain IMAP and IMAPS on free ports of 127.0.0.1,
and a self-signed certificate made with `openssl` for `localhost` and 127.0.0.1. As root, the
server's internal and login processes run as Debian's `dovecot` and `dovenull` users and the
mail as `nobody`; otherwise all of it runs as the current user.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imapclient import IMAPClient

from tests.smtp import free_port

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
)
OPENSSL = shutil.which("openssl")
MISSING = (
    None
    if DOVECOT and OPENSSL
    else "dovecot or openssl was not found; Debian's dovecot-imapd package brings both"
)
USER, PASSWORD = "tn@tianning.example", "the inbox password"

CONFIG = """
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/users
}}
userdb {{
  driver = passwd-file
  args = {folder}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class Dovecot:
    """Dovecot on 127.0.0.1: `port` plain (and STARTTLS), `ssl_port` IMAPS; `ca_file` trusts it."""

    def __init__(self) -> None:
        assert DOVECOT and OPENSSL, MISSING
        self.folder = Path(tempfile.mkdtemp(prefix="adr-imap-"))
        self.folder.chmod(0o755)  # the mail processes, another user when we are root, go in
        self.port, self.ssl_port = free_port(), free_port()
        self.ca_file = str(self.folder / "cert.pem")
        if os.geteuid() == 0:
            internal, login, mail = "dovecot", "dovenull", pwd.getpwnam("nobody")
        else:
            internal = login = getpass.getuser()
            mail = pwd.getpwuid(os.getuid())
        mail_folder = self.folder / "mail"
        mail_folder.mkdir()
        os.chown(mail_folder, mail.pw_uid, mail.pw_gid)
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(self.folder / "key.pem"), "-out", self.ca_file, "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        home = mail_folder / "tn"
        (self.folder / "users").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{mail.pw_uid}:{mail.pw_gid}::{home}\n"
        )
        self.config = self.folder / "dovecot.conf"
        self.config.write_text(
            CONFIG.format(
                folder=self.folder,
                internal=internal,
                internal_group=grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name,
                login=login,
                port=self.port,
                ssl_port=self.ssl_port,
            )
        )
        with open(self.folder / "stderr", "wb") as stderr:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.wait_until_listening()

    def wait_until_listening(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"dovecot did not start: {self.errors()}") from None
                time.sleep(0.05)

    def errors(self) -> str:
        """Return what dovecot wrote on its standard error and in its log."""
        files = [self.folder / "stderr", self.folder / "log"]
        return "\n".join(f.read_text(errors="replace") for f in files if f.exists())

    def client(self) -> IMAPClient:
        """Return a connection logged in as the inbox's user (plain IMAP: loopback)."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        client.normalise_times = False
        return client

    def settings(self, folder: str, **overrides: object) -> dict[str, object]:
        """Return the app's settings to read `folder` of this server."""
        return {
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": self.port,
            "IMAP_USER": USER,
            "IMAP_PASSWORD": PASSWORD,
            "IMAP_FOLDER": folder,
            "IMAP_SECURITY": "none",
            "IMAP_TIMEOUT": 30,
            **overrides,
        }

    def wait_for_log(self, pattern: str, seconds: float = 20) -> re.Match[str]:
        """Return the last match of `pattern` in the server's log, once one is written."""
        deadline = time.monotonic() + seconds
        while True:
            found = list(re.finditer(pattern, (self.folder / "log").read_text(errors="replace")))
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"dovecot logged nothing matching {pattern!r}")
            time.sleep(0.05)

    @contextmanager
    def password_changed(self) -> Iterator[None]:
        """Change the user's password on the server for a while (the file is read again)."""
        users = self.folder / "users"
        kept = users.read_text()
        users.write_text(kept.replace(PASSWORD, "another password, longer than the first"))
        try:
            yield
        finally:
            users.write_text(kept)

    def stop(self) -> None:
        try:
            self.process.terminate()  # the master ends its children first
            self.process.wait(10)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
