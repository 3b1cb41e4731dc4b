"""A throwaway OpenLDAP server for tests and benchmarks: Debian's slapd, for real.

:class:`Slapd` writes a ``slapd.conf`` into a directory of its own (core, cosine,
inetorgperson and nis schemas from /etc/ldap/schema, optionally the small Active
Directory stand-in ``ad-test.schema`` beside this file, an mdb database in the same
directory, a rootdn/rootpw), loads LDIF offline with ``slapadd`` (much faster than
ldapadd for big directories), starts slapd on a free loopback port and stops it by
its PID. Optional TLS: a self-signed certificate made with the openssl command, for
ldaps:// and StartTLS.

Importable from benchmarks: ``sys.path.insert(0, "tests")`` then
``from support.slapd import Slapd``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

SLAPD = Path(os.environ.get("DISCOVER_TEST_SLAPD", "/usr/sbin/slapd"))
SLAPADD = Path(os.environ.get("DISCOVER_TEST_SLAPADD", "/usr/sbin/slapadd"))
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
AD_SCHEMA = Path(__file__).with_name("ad-test.schema")
STANDARD_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
DEFAULT_INDEXES = (
    "objectClass eq",
    "cn,sn,uid,mail eq,sub",
    "telephoneNumber,mobile,homePhone eq",
    "member,uniqueMember eq",
)
AD_INDEXES = (
    "sAMAccountName,userPrincipalName,proxyAddresses,ipPhone,otherTelephone,otherMobile eq",
    "employeeID,msRTCSIP-Line eq",
)


def missing() -> str | None:
    """Why slapd cannot run here, or None when it can."""
    for tool in (SLAPD, SLAPADD):
        if not tool.exists():
            return f"{tool} is not installed (apt-get install slapd ldap-utils)"
    for name in STANDARD_SCHEMAS:
        if not (SCHEMA_DIR / f"{name}.schema").exists():
            return f"{SCHEMA_DIR / name}.schema is missing"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlapdError(RuntimeError):
    """slapd or slapadd failed; the message carries their output."""


class Slapd:
    """One slapd process with its own config and mdb database under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        suffix: str = "dc=example,dc=org",
        rootpw: str = "test-secret",
        ad_schema: bool = False,
        tls: bool = False,
        size_limit: int | None = None,
        extra_config: Iterable[str] = (),
        max_size: int = 1 << 30,
        indexes: Iterable[str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.suffix = suffix
        self.rootdn = f"cn=admin,{suffix}"
        self.rootpw = rootpw
        self.ad_schema = ad_schema
        self.tls = tls
        self.size_limit = size_limit
        self.extra_config = list(extra_config)
        self.max_size = max_size
        self.indexes = list(indexes) if indexes is not None else None
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        self.database = self.root / "db"
        self.config = self.root / "slapd.conf"
        self.log = self.root / "slapd.log"
        self.ca_file = self.root / "ca.pem"
        self._write_config()

    # -- configuration -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        if self.tls_port is None:
            raise SlapdError("this slapd was made without tls=True")
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def _make_certificate(self) -> list[str]:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SlapdError("the openssl command is needed for a TLS test server")
        key, cert = self.root / "server.key", self.root / "server.pem"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        shutil.copyfile(cert, self.ca_file)
        return [
            f"TLSCACertificateFile {self.ca_file}",
            f"TLSCertificateFile {cert}",
            f"TLSCertificateKeyFile {key}",
        ]

    def _write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.database.mkdir(exist_ok=True)
        lines = [f"include {SCHEMA_DIR / name}.schema" for name in STANDARD_SCHEMAS]
        if self.ad_schema:
            lines.append(f"include {AD_SCHEMA}")
        lines += [
            f"pidfile {self.root / 'slapd.pid'}",
            f"argsfile {self.root / 'slapd.args'}",
            f"modulepath {MODULE_DIR}",
            "moduleload back_mdb",
        ]
        if self.tls:
            lines += self._make_certificate()
        if self.size_limit is not None:
            lines.append(f"sizelimit {self.size_limit}")
        lines += self.extra_config
        lines += [
            "database mdb",
            f"maxsize {self.max_size}",
            f'suffix "{self.suffix}"',
            f'rootdn "{self.rootdn}"',
            f"rootpw {self.rootpw}",
            f"directory {self.database}",
        ]
        if self.indexes is not None:
            lines += [f"index {index}" for index in self.indexes]
        else:
            lines += [f"index {index}" for index in DEFAULT_INDEXES]
            if self.ad_schema:
                lines += [f"index {index}" for index in AD_INDEXES]
        lines += [
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by * read",
        ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- data --------------------------------------------------------------------------

    def slapadd(self, ldif: str | Path) -> None:
        """Load LDIF offline (before start, or while stopped)."""
        if self.running:
            raise SlapdError("slapadd needs the server stopped")
        source = Path(ldif) if isinstance(ldif, Path) else None
        if source is None:
            source = self.root / f"load-{time.monotonic_ns()}.ldif"
            source.write_text(str(ldif), encoding="utf-8")
        done = subprocess.run(
            [str(SLAPADD), "-q", "-f", str(self.config), "-l", str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SlapdError(f"slapadd failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    # -- process -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15) -> None:
        urls = self.url + "/"
        if self.tls_port is not None:
            urls += f" ldaps://127.0.0.1:{self.tls_port}/"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SLAPD), "-f", str(self.config), "-h", urls, "-d", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SlapdError(f"slapd exited ({self.process.returncode}): {self._log_tail()}")
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise SlapdError(f"slapd did not listen on {self.port} within {timeout} s")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it accepts connections but never answers."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop slapd by its PID: SIGTERM, then SIGKILL if it does not exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> Slapd:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
