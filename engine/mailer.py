"""Outgoing email: record it in the mail log, then send it over SMTP when a server is configured.

It owns the SMTP conversation and what a failed send means (logged and recorded, never raised: a
registration must not fail because the mail server is down). It does not write the emails (the callers'
templates do) nor retry them. Unlike the pure core it does I/O: the store, and ``smtplib`` in a thread.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import trio

from engine.store.database import Database
from engine.store.mail import mark_email_failed, mark_email_sent, record_email

__all__ = ["Mailer", "SmtpConfig", "compose_message"]

logger = logging.getLogger(__name__)


# A dataclass rather than a Struct so that the password can stay out of repr() and hence out of logs.
@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """Where and how to send. ``starttls`` upgrades a plain connection (port 587) and fails if the
    server cannot; ``username`` None means no login. ``timeout`` bounds a whole send, in seconds."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    from_address: str
    timeout: float = 10.0


class Mailer:
    """Sends emails, and records every one of them in ``outbound_emails`` first.

    Without an ``SmtpConfig`` (development, the sandbox) nothing leaves the process: the email is logged
    at INFO, body included, since its links are how a developer finishes a flow, and it stays readable
    in the dev mailbox (``engine.store.mail.list_emails``) with ``sent_at`` NULL.
    """

    def __init__(self, db: Database, smtp: SmtpConfig | None, *, concurrency: int = 4) -> None:
        self._db, self._smtp = db, smtp
        # Our own limiter, so a burst of registrations neither opens many connections to the mail server
        # nor takes all of trio's default worker threads away from the database and password hashing.
        self._limiter = trio.CapacityLimiter(concurrency)

    async def send(self, *, to: str, subject: str, body: str, org_id: uuid.UUID | None) -> None:
        """Record the email, then send it or log it; returns once it is sent, has failed, or was logged.

        Error handling: a failed or timed-out send is logged, recorded in the row's ``error`` and not
        raised. A header value with a line break raises ``ValueError`` before anything is recorded (it
        is a bug, or a header injection). Store errors propagate: with the database down, the caller's
        operation fails anyway. Callers that should not wait for the mail server start this in a nursery.
        """
        message = compose_message(to=to, subject=subject, body=body, smtp=self._smtp)
        email_id = await record_email(self._db, to=to, subject=subject, body=body, org_id=org_id)
        if self._smtp is None:
            logger.info("email not sent (no SMTP server configured) to %s: %s\n%s", to, subject, body)
            return
        error = await self._deliver(self._smtp, message)
        if error is None:
            await mark_email_sent(self._db, email_id)
            return
        logger.warning("sending email %s to %s failed: %s", email_id, to, error)
        await mark_email_failed(self._db, email_id, error)

    async def _deliver(self, smtp: SmtpConfig, message: EmailMessage) -> str | None:
        """Send ``message``; None when it was accepted, otherwise why not."""
        try:
            with trio.fail_after(smtp.timeout):
                # abandon_on_cancel: on timeout (or shutdown) we stop waiting at once; the thread itself
                # ends at its next socket timeout, and keeps its limiter token until then.
                await trio.to_thread.run_sync(
                    _send_blocking, smtp, message, limiter=self._limiter, abandon_on_cancel=True
                )
        except trio.TooSlowError:
            return f"timed out after {smtp.timeout:g} s (the server may still deliver it)"
        except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors too
            return f"{type(exc).__name__}: {exc}"
        return None


def compose_message(*, to: str, subject: str, body: str, smtp: SmtpConfig | None) -> EmailMessage:
    # Built even without SMTP, so that a bad header fails the same way in development as in production.
    message = EmailMessage()
    if smtp is not None:
        message["From"] = smtp.from_address
        domain = parseaddr(smtp.from_address)[1].rpartition("@")[2] or "localhost"
        # An explicit domain: make_msgid() would otherwise resolve our FQDN, which can block on DNS.
        message["Message-ID"] = make_msgid(domain=domain)
    # As an Address, not a string: the header parser breaks on some local parts our pattern lets in
    # ("a.:@x.y" raised AttributeError inside Python's email package, a 500 at registration); an Address
    # quotes such a local part as RFC 5322 says ("a.:"@x.y), and leaves an ordinary address as it is.
    local, _, domain = to.rpartition("@")
    message["To"] = Address(username=local, domain=domain)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message.set_content(body)
    return message


def _send_blocking(smtp: SmtpConfig, message: EmailMessage) -> None:
    """The SMTP conversation, in a worker thread; each socket operation times out on its own."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username is not None:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)
