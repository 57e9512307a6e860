"""Token authentication for the dashboard.

Two ways in, both proving knowledge of the one shared token:
- API clients send `Authorization: Bearer <token>` (no cookie, so no CSRF exposure);
- the browser logs in once with the token and gets an HttpOnly, SameSite=Strict session
  cookie `nonce.HMAC(token, nonce)`. State-changing requests carried by that cookie must
  also send the CSRF token `HMAC(token, "csrf:" + nonce)` in the `X-CSRF-Token` header
  (the page embeds it), so a cross-site form or fetch cannot act with the cookie.
Sessions are stateless: changing the token (restart with another) logs everyone out.
Every comparison with the token (login form, Bearer header) goes through the
`GuessLimiter` (see `limits`); a session cookie is a MAC, not a guess, and is not limited.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from .limits import GuessLimiter, client_key

COOKIE_NAME = "imuad_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE_S = 7 * 24 * 3600


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who is asking: `via` is 'bearer', 'cookie' or None (anonymous)."""

    via: str | None
    csrf: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.via is not None


def too_many_guesses(wait_s: float) -> HTTPException:
    seconds = max(1, int(wait_s + 0.999))
    return HTTPException(429, f"too many wrong tokens from your address; retry in {seconds} s",
                         headers={"Retry-After": str(seconds)})


class TokenAuth:
    def __init__(self, token: str, limiter: GuessLimiter | None = None) -> None:
        if len(token) < 8:
            raise ValueError("dashboard token must be at least 8 characters")
        self.token = token
        self.limiter = limiter or GuessLimiter()

    def check_token(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def guess(self, request: Request, candidate: str) -> bool:
        """A rate-limited token check for this client (429 when it is over its budget)."""
        client = client_key(request.client.host if request.client else None)
        wait = self.limiter.reserve(client)
        if wait > 0:
            raise too_many_guesses(wait)
        ok = self.check_token(candidate)
        self.limiter.settle(client, ok)
        return ok

    def new_session(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{_mac(self.token, 'session:' + nonce)}"

    def csrf_for(self, session: str) -> str:
        nonce = session.split(".", 1)[0]
        return _mac(self.token, "csrf:" + nonce)

    def _session_ok(self, session: str) -> bool:
        nonce, _, mac = session.partition(".")
        return bool(nonce) and hmac.compare_digest(mac, _mac(self.token, "session:" + nonce))

    def identify(self, request: Request) -> Identity:
        """Who sent `request` (decided once per request: a wrong Bearer costs one guess)."""
        ident = getattr(request.state, "imuad_identity", None)
        if ident is None:
            ident = request.state.imuad_identity = self._identify(request)
        return ident

    def _identify(self, request: Request) -> Identity:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip() and self.guess(request, value.strip()):
            return Identity("bearer")
        session = request.cookies.get(COOKIE_NAME)
        if session and self._session_ok(session):
            return Identity("cookie", self.csrf_for(session))
        return Identity(None)

    def csrf_ok(self, request: Request, ident: Identity) -> bool:
        """Bearer requests need no CSRF token; cookie requests must echo theirs."""
        if ident.via == "bearer":
            return True
        sent = request.headers.get(CSRF_HEADER, "")
        return ident.via == "cookie" and ident.csrf is not None and bool(sent) and \
            hmac.compare_digest(sent, ident.csrf)
