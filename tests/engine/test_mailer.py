"""``engine.mailer`` and ``engine.store.mail``: every email is recorded, then sent over real SMTP or logged.

Rules: the mail server is real, a tiny SMTP responder on 127.0.0.1:0 in a thread (``smtpd`` is gone and
``aiosmtpd`` is not a dependency), never a patched ``smtplib``; the database is real (``db``); every
test has a deadline on real time.
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import trio

from engine.mailer import Mailer, SmtpConfig
from engine.store import Database
from engine.store.mail import list_emails
from tests.helpers.factories import create_org


class _SmtpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.envelopes: list[tuple[bytes, list[bytes]]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO (advertising AUTH PLAIN), AUTH, MAIL, RCPT, DATA, QUIT."""

    server: _SmtpServer

    def handle(self) -> None:
        self._reply(b"220 test ESMTP")
        sender, recipients = b"", list[bytes]()
        while line := self.rfile.readline():
            verb, _, arg = line.rstrip(b"\r\n").partition(b" ")
            match verb.upper():
                case b"EHLO":
                    self._reply(b"250-test", b"250 AUTH PLAIN")
                case b"AUTH":  # "AUTH PLAIN <base64 of \0user\0password>"
                    self.server.logins.append(base64.b64decode(arg.split()[1]).decode())
                    self._reply(b"235 2.7.0 accepted")
                case b"MAIL":
                    sender, recipients = arg, list[bytes]()
                    self._reply(b"250 ok")
                case b"RCPT":
                    recipients.append(arg)
                    self._reply(b"250 ok")
                case b"DATA":
                    self._reply(b"354 go ahead")
                    self._receive(sender, recipients)
                case b"QUIT":
                    self._reply(b"221 bye")
                    return
                case _:
                    self._reply(b"250 ok")

    def _receive(self, sender: bytes, recipients: list[bytes]) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
        parsed = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server.messages.append(parsed)
        self.server.envelopes.append((sender, recipients))
        self._reply(b"250 queued")

    def _reply(self, *lines: bytes) -> None:
        self.wfile.write(b"".join(line + b"\r\n" for line in lines))


@pytest.fixture
def smtp_server() -> Iterator[_SmtpServer]:
    server = _SmtpServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _config(port: int, **overrides: object) -> SmtpConfig:
    fields: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "starttls": False, "from_address": "SongTrack <no-reply@st.test>",
        "timeout": 5.0,
    }  # fmt: skip
    fields.update(overrides)
    return SmtpConfig(**fields)  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more: connecting is refused


async def test_an_email_is_recorded_then_delivered_over_smtp(db: Database, smtp_server: _SmtpServer) -> None:
    mailer = Mailer(db, _config(smtp_server.port, username="mailer", password="s3cret"))
    with trio.fail_after(10):
        await mailer.send(to="ada@example.com", subject="Verify your email",
                          body="Open https://st.test/verify/abc\n.\nthanks", org_id=None)
    [message] = smtp_server.messages
    assert (message["Subject"], message["To"]) == ("Verify your email", "ada@example.com")
    assert message["From"] == "SongTrack <no-reply@st.test>" and message["Message-ID"].endswith("@st.test>")
    assert message.get_content().replace("\r\n", "\n") == "Open https://st.test/verify/abc\n.\nthanks\n"
    assert smtp_server.envelopes == [(b"FROM:<no-reply@st.test>", [b"TO:<ada@example.com>"])]
    assert smtp_server.logins == ["\0mailer\0s3cret"]
    [row] = await list_emails(db, to="ADA@example.com", limit=10)
    assert row.sent_at is not None and row.error is None and row.subject == "Verify your email"


async def test_without_smtp_an_email_is_recorded_and_logged_not_sent(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    org_id = await create_org(db, "Label")
    with trio.fail_after(10), caplog.at_level(logging.INFO, logger="engine.mailer"):
        await Mailer(db, None).send(to="ada@example.com", subject="Reset", body="https://st.test/r/x",
                                    org_id=org_id)
    assert all(part in caplog.text for part in ("ada@example.com", "Reset", "https://st.test/r/x"))
    [row] = await list_emails(db, limit=10)
    assert (row.organization_id, row.sent_at, row.error) == (org_id, None, None)
    assert row.body == "https://st.test/r/x"


async def test_a_refused_connection_is_recorded_and_not_raised(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(10):
        await Mailer(db, _config(_closed_port())).send(
            to="a@example.com", subject="Hi", body="b", org_id=None
        )
    [row] = await list_emails(db, limit=10)
    assert row.sent_at is None and row.error is not None and "ConnectionRefusedError" in row.error
    assert "failed" in caplog.text


async def test_starttls_is_required_when_configured(db: Database, smtp_server: _SmtpServer) -> None:
    # Our responder does not offer STARTTLS: we must fail rather than send in clear text.
    with trio.fail_after(10):
        await Mailer(db, _config(smtp_server.port, starttls=True)).send(
            to="a@example.com", subject="Hi", body="b", org_id=None
        )
    assert smtp_server.messages == []
    [row] = await list_emails(db, limit=10)
    assert row.sent_at is None and row.error is not None and "STARTTLS" in row.error


async def test_a_silent_server_times_out(db: Database) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = trio.current_time()
        with trio.fail_after(10):
            await Mailer(db, _config(silent.getsockname()[1], timeout=0.3)).send(
                to="a@example.com", subject="Hi", body="b", org_id=None
            )
        assert trio.current_time() - start < 3
    [row] = await list_emails(db, limit=10)
    assert row.sent_at is None and row.error is not None and "timed out" in row.error


async def test_a_header_with_a_line_break_is_refused_before_recording(db: Database) -> None:
    with trio.fail_after(10), pytest.raises(ValueError, match=r"linefeed|CR or LF"):
        await Mailer(db, None).send(to="a@example.com\r\nBcc: b@example.com", subject="Hi", body="b",
                                    org_id=None)
    assert await list_emails(db, limit=10) == []


async def test_the_mailbox_lists_newest_first_and_filters_by_recipient(db: Database) -> None:
    mailer = Mailer(db, None)
    with trio.fail_after(10):
        for to in ("a@example.com", "b@example.com", "A@example.com"):
            await mailer.send(to=to, subject=f"to {to}", body="b", org_id=None)
        assert [e.to_address for e in await list_emails(db, to="a@EXAMPLE.com", limit=10)] == [
            "A@example.com", "a@example.com"
        ]
        assert [e.to_address for e in await list_emails(db, limit=2)] == ["A@example.com", "b@example.com"]
