"""Who may see the dashboard and the API: a holder of `[server] token`.

A script sends `Authorization: Bearer <token>`; a person types the token into
the login form once and gets a cookie. The cookie holds an HMAC of the token,
not the token, and stops working when the token changes. `/healthz`, the
collector, the snippet and the webhooks never ask for it.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "tp_dashboard"
COOKIE_DAYS = 30


def cookie_value(token: str) -> str:
    """What the sign-in cookie holds for this token."""
    return hmac.new(token.encode(), b"touchpoint dashboard sign-in", hashlib.sha256).hexdigest()


def token_matches(given: str, token: str) -> bool:
    """Whether `given` is the token, compared in constant time."""
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def authorized(request: Request, token: str) -> bool:
    """A bearer token or the sign-in cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(value.strip(), token):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), cookie_value(token).encode())


def sign_in(response: Response, token: str, secure: bool) -> Response:
    """Set the sign-in cookie on `response`."""
    response.set_cookie(
        COOKIE,
        cookie_value(token),
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


def unauthorized_json() -> Response:
    """What the API answers without the token."""
    return JSONResponse(
        {"error": "this needs the [server] token: send Authorization: Bearer <token>"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="touchpoint"', "Cache-Control": "no-store"},
    )


class TokenGate:
    """An ASGI app that lets only token holders through to `app`; everyone else gets 401."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not authorized(Request(scope), self.token):
            await unauthorized_json()(scope, receive, send)
            return
        await self.app(scope, receive, send)
