"""Access tokens: short-lived HS256 JWTs that name a user, an organization, a
role and the session (``sid``) they were minted for.

We verify the signature with PyJWT but check iat and expiry against our own clock,
because PyJWT reads the system clock and the tests drive time with MockClock.
A valid signature is not enough on its own: the caller also checks that the
session is still live (logout revokes it), see ``http_api.auth.principal``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

import jwt
import msgspec

from http_api.errors import ApiError

__all__ = ["AccessClaims", "TokenService"]

_ISSUER = "songtrackpro"
_ALGORITHM = "HS256"


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    sub: uuid.UUID  # user id
    org: uuid.UUID
    role: str
    sid: uuid.UUID  # session id
    jti: str
    iat: int
    exp: int


# Tokens whose signature was checked, kept with their claims: a client sends the same token on every request
# until it refreshes, and decoding it again was 5.6 % of an API worker's time listing campaigns. A token's
# claims never change; its expiry is checked at each use. Invalid tokens are not kept (an exception is not
# cached), so a flood of forged ones cannot evict the good.
_VERIFIED_KEPT = 4096


class TokenService:
    def __init__(self, key: bytes, ttl: int, now: Callable[[], float]) -> None:
        self._key, self.ttl, self._now = key, ttl, now
        self._claims_of = functools.lru_cache(maxsize=_VERIFIED_KEPT)(self._decode)

    def mint(self, *, user_id: uuid.UUID, org_id: uuid.UUID, role: str, session_id: uuid.UUID) -> str:
        issued = int(self._now())
        claims = {
            "iss": _ISSUER, "typ": "access", "sub": str(user_id), "org": str(org_id), "role": role,
            "sid": str(session_id), "jti": uuid.uuid4().hex, "iat": issued, "exp": issued + self.ttl,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """The claims of a token we minted that has not expired; otherwise ApiError 401."""
        claims = self._claims_of(token)
        if claims.exp <= self._now():
            raise _unauthenticated("access token expired")
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token, self._key, algorithms=[_ALGORITHM], issuer=_ISSUER,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "require": ["exp", "iat", "sub", "sid", "jti"]},
            )
            if payload.get("typ") != "access":
                raise jwt.InvalidTokenError("not an access token")
            claims = msgspec.convert(payload, AccessClaims, strict=False)
        except (jwt.InvalidTokenError, msgspec.ValidationError):
            raise _unauthenticated("invalid access token") from None
        return claims


def _unauthenticated(message: str) -> ApiError:
    error = ApiError(401, "AUTHENTICATION_ERROR", message)
    error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return error
