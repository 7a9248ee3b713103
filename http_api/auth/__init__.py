"""Accounts and who is calling: register, login and sessions, the email flows, access tokens, the
caller's principal, and the brute-force limit on the auth routes."""

__all__: list[str] = []  # importers name the module
