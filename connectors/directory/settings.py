"""Connection settings of a directory source, read from the sources file's ``connection``.

Never from the mapping: a mapping describes what a directory holds, the sources file
says which server to ask and how (``${LDAP_URL}``, ``${LDAP_BIND_PASSWORD}`` …).
Values may arrive as text from the environment, so numbers and booleans are parsed
here, with an error that names the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from discover.errors import SourceError
from discover.sources import SourceConfig

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(source: str, key: str, raw: Any, default: bool) -> bool:
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SourceError(source, f"connection.{key}: expected true or false, got {raw!r}")


def _number(source: str, key: str, raw: Any, default: float, *, minimum: float = 0) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SourceError(source, f"connection.{key}: expected a number, got {raw!r}") from None
    if value < minimum:
        raise SourceError(source, f"connection.{key}: expected at least {minimum}, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class LdapSettings:
    """How to reach and query one directory server."""

    url: str
    host: str
    port: int | None
    use_ssl: bool
    base_dn: str | None
    bind_dn: str | None
    password: str | None
    start_tls: bool
    tls_verify: bool
    ca_file: Path | None
    connect_timeout: float
    timeout: int
    time_limit: int
    size_limit: int
    page_size: int
    filter_terms: int

    @property
    def tls(self) -> bool:
        return self.use_ssl or self.start_tls


def ldap_settings(source: SourceConfig) -> LdapSettings:
    """Parse ``source.connection``; SourceError naming the setting when one is wrong."""
    name = source.name
    connection = source.connection
    url = str(connection.get("url") or "").strip()
    if not url:
        raise SourceError(name, "connection.url is not set in the sources file")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname:
        raise SourceError(
            name, f"connection.url: expected ldap://host[:port] or ldaps://…, got {url}"
        )
    try:
        port = parts.port
    except ValueError:
        raise SourceError(name, f"connection.url: the port of {url} is not a number") from None
    ca_raw = connection.get("ca_file")
    ca_file = None
    if ca_raw:
        ca_file = Path(str(ca_raw)).expanduser()
        if not ca_file.is_absolute():
            ca_file = source.base_dir / ca_file
    password = connection.get("password", connection.get("bind_password"))
    return LdapSettings(
        url=url,
        host=parts.hostname,
        port=port,
        use_ssl=parts.scheme.lower() == "ldaps",
        base_dn=str(connection.get("base_dn") or "").strip() or None,
        bind_dn=str(connection.get("bind_dn") or "").strip() or None,
        password=None if password in (None, "") else str(password),
        start_tls=_flag(name, "start_tls", connection.get("start_tls"), False),
        tls_verify=_flag(name, "tls_verify", connection.get("tls_verify"), True),
        ca_file=ca_file,
        connect_timeout=_number(name, "connect_timeout", connection.get("connect_timeout"), 10),
        # ldap3 packs the receive timeout into a socket option: whole seconds
        timeout=max(1, round(_number(name, "timeout", connection.get("timeout"), 30, minimum=1))),
        time_limit=int(_number(name, "time_limit", connection.get("time_limit"), 60)),
        size_limit=int(_number(name, "size_limit", connection.get("size_limit"), 0)),
        page_size=int(_number(name, "page_size", connection.get("page_size"), 500)),
        filter_terms=int(
            _number(name, "filter_terms", connection.get("filter_terms"), 1000, minimum=1)
        ),
    )
