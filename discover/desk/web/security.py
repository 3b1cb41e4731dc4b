"""Sessions, CSRF tokens, login rate limits and the response headers of the console.

Sessions live in the server's memory (a restart logs everyone out) and the browser
holds only a random token in an HttpOnly, SameSite=Strict cookie. Every form that
changes something carries the session's CSRF token; the login form, before there is
a session, carries a token bound to a short-lived pre-login cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

SESSION_COOKIE = "discover_session"
LOGIN_COOKIE = "discover_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: a session ends after this much inactivity, and in any case after MAX_AGE
IDLE_SECONDS = 30 * 60
MAX_AGE_SECONDS = 8 * 60 * 60
#: failed logins allowed per client address and per user name in the window
LOGIN_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60
#: keys (addresses, user names) tracked before stale ones are dropped
MAX_TRACKED = 10_000

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cache-control": "no-store",
}

ROLE_RANK = {"viewer": 1, "officer": 2}


@dataclass(slots=True)
class Session:
    user: str
    role: str
    csrf: str
    created: float
    seen: float

    def may(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


@dataclass(slots=True)
class Sessions:
    """Server-side sessions keyed by the SHA-256 of their cookie token."""

    _by_hash: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def create(self, user: str, role: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._by_hash[self._key(token)] = Session(
                user, role, secrets.token_urlsafe(32), now, now
            )
        return token

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_hash.get(self._key(token))
            if session is None:
                return None
            if now - session.seen > IDLE_SECONDS or now - session.created > MAX_AGE_SECONDS:
                del self._by_hash[self._key(token)]
                return None
            session.seen = now
            return session

    def drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._by_hash.pop(self._key(token), None)


@dataclass(slots=True)
class LoginLimiter:
    """At most LOGIN_FAILURES failed logins per key (address, user name) in the window."""

    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > LOGIN_WINDOW_SECONDS:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(key, now)) >= LOGIN_FAILURES for key in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > MAX_TRACKED:  # many made-up names: forget the stale ones
                for stale in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[stale]
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def login_csrf(secret: bytes, login_token: str) -> str:
    """The login form's CSRF token: bound to the pre-login cookie by a keyed hash."""
    return hmac.new(secret, login_token.encode(), hashlib.sha256).hexdigest()


def same_token(expected: str, given: Any) -> bool:
    return isinstance(given, str) and bool(given) and hmac.compare_digest(expected, given)


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, whatever produced it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.decode().lower() != "server"
                ]
                present = {k.decode().lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
