"""Sending: the message as built, and real SMTP conversations on 127.0.0.1.

Every server here is local (aiosmtpd, or a bare socket that never speaks);
the one test about an unknown host answers the name lookup itself, so no
test touches the network or a resolver.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from conftest import CHINESE_ISSUE

from newsletter import api
from newsletter.model import Issue, RenderedIssue, Sender, Settings
from newsletter.send import (
    POLICY,
    SendError,
    SmtpSettings,
    build_message,
    export_eml,
    send_message,
    smtp_from_environment,
    unsubscribe_address,
)

NOW = dt.datetime(2026, 11, 20, 6, 30, tzinfo=dt.UTC)
TO = ("editor@example.org", "copy-desk@example.net")
USER, PASSWORD = "desk", "correct horse battery staple"
LONG_UNSUBSCRIBE = ("https://lists.tideline.example.org/unsubscribe/one-click/"
                    "a6b1f0c3d2e4a6b1f0c3d2e4a6b1f0c3?list=weekly&issue=47")

# A test CA and a certificate it signed for 127.0.0.1 and localhost, valid
# 2000-2100 (made with `openssl ca`; the key protects nothing but these tests).
TEST_CA = """\
-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgICEAAwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSbmV3c2xl
dHRlciB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAd
MRswGQYDVQQDDBJuZXdzbGV0dGVyIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASY910GRMIIOx/KcsxVOVdmATsFrXJIsvAmmsgoO78HYal1KJNJsyVC
pdxShXHmpQRX7PQ+up3sz4mSR8fCigzYo2MwYTAPBgNVHRMBAf8EBTADAQH/MA4G
A1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUAb2Qoll+E+sMl5GZr4MI2+oAHIYwHwYD
VR0jBBgwFoAUAb2Qoll+E+sMl5GZr4MI2+oAHIYwCgYIKoZIzj0EAwIDSAAwRQIh
AMuhSzIxJw8mlDwWlczIl46DT57kpdzEAA7+sAEzXxSGAiAMW4hZtUAuXdXZJFTG
7/1mtHGbz/ygMx+aPUiK49qHPg==
-----END CERTIFICATE-----
"""
TEST_SERVER_CERT = """\
-----BEGIN CERTIFICATE-----
MIIBtTCCAVygAwIBAgICEAEwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSbmV3c2xl
dHRlciB0ZXN0IENBMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAU
MRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASP
WL6WuHi8I8sXxQVT+ceBAZy2AdgwT17IFR+5Ziww5qwStZJS7vAP7GqT2vlyfZC1
EYuBg6uDY18ki9qhQyoFo4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQD
AgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2FsaG9zdIcE
fwAAATAdBgNVHQ4EFgQUGf+llHH+4AK4SRk/JmJz/tJUG6owHwYDVR0jBBgwFoAU
Ab2Qoll+E+sMl5GZr4MI2+oAHIYwCgYIKoZIzj0EAwIDRwAwRAIgcZ9Ah9x/IENa
gGuY/HkfPbMamvtoOSn9aYfI1vGlI5sCIB942yiHPoN0erV8Eql1iFweCowWxOfn
gXXobmJiVaDB
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqrqXd8IYzDvlAuLC
Fld9Rw7tD2gPB4OypTtufr8wTkqhRANCAASPWL6WuHi8I8sXxQVT+ceBAZy2Adgw
T17IFR+5Ziww5qwStZJS7vAP7GqT2vlyfZC1EYuBg6uDY18ki9qhQyoF
-----END PRIVATE KEY-----
"""


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chinese(settings: Settings) -> tuple[Issue, RenderedIssue]:
    return api.render_issue(CHINESE_ISSUE, settings)


@pytest.fixture(scope="module")
def message(chinese: tuple[Issue, RenderedIssue], settings: Settings) -> EmailMessage:
    issue, rendered = chinese
    return build_message(issue, rendered, settings, to=TO, test=True, now=NOW)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the CA file a client trusts, the server's certificate chain with its key)."""
    folder = tmp_path_factory.mktemp("tls")
    (folder / "ca.pem").write_text(TEST_CA)
    (folder / "server.pem").write_text(TEST_SERVER_CERT)
    return folder / "ca.pem", folder / "server.pem"


@pytest.fixture()
def trusted(certificates: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients trust the test CA (ssl.create_default_context reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates[0]))


class Mailbox:
    """An aiosmtpd handler that keeps every envelope and refuses some recipients."""

    def __init__(self, refuse: str = "@refused.example") -> None:
        self.envelopes: list[Envelope] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.endswith(self.refuse):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 queued"


class LocalController(Controller):
    """aiosmtpd on 127.0.0.1, on whichever port is free."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd is unannotated


def check_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


Serve = Callable[..., tuple[Mailbox, int]]


@pytest.fixture()
def serve(certificates: tuple[Path, Path]) -> Iterator[Serve]:
    """Start an SMTP server on 127.0.0.1: `serve(tls=..., auth=...)` -> (mailbox, port).

    tls: None (plain), "starttls" (offered and required) or "tls" (implicit).
    """
    started: list[Controller] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates[1])

    def start(*, tls: str | None = None, auth: bool = False) -> tuple[Mailbox, int]:
        mailbox = Mailbox()
        options: dict[str, Any] = {}
        if tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif tls == "tls":
            options.update(ssl_context=context)
        if auth:
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS it would hide AUTH
            options.update(authenticator=check_login, auth_require_tls=tls == "starttls")
        controller = LocalController(mailbox, hostname="127.0.0.1", port=0,
                                     ready_timeout=5, **options)
        controller.start()
        started.append(controller)
        return mailbox, controller.port

    yield start
    for controller in started:
        controller.stop()


def local(port: int, **options: Any) -> SmtpSettings:
    chosen: dict[str, Any] = {"security": "none", "timeout": 5, **options}
    return SmtpSettings(host="127.0.0.1", port=port, **chosen)


def received(mailbox: Mailbox) -> EmailMessage:
    [envelope] = mailbox.envelopes
    assert isinstance(envelope.content, bytes)
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> list[EmailMessage]:
    return list(message.iter_parts())  # type: ignore[arg-type]  # parts of an EmailMessage are EmailMessages


def lines(text: str) -> str:
    """A part's text with the transfer's CRLF line ends back to LF."""
    return text.replace("\r\n", "\n")


# --- the message ---------------------------------------------------------------


def test_a_test_send_arrives_whole(serve: Serve, message: EmailMessage,
                                   chinese: tuple[Issue, RenderedIssue]) -> None:
    issue, rendered = chinese
    mailbox, port = serve()
    send_message(message, local(port))

    [envelope] = mailbox.envelopes
    assert envelope.mail_from == "desk@tideline.example.org"
    assert envelope.rcpt_tos == list(TO)
    got = received(mailbox)
    assert got["Subject"] == f"[TEST] {issue.subject}"
    assert "第47期" in got["Subject"]
    assert got["From"] == "Tideline desk <desk@tideline.example.org>"
    assert got["Reply-To"] == "letters@tideline.example.org"
    assert got["To"] == ", ".join(TO)
    assert got["Date"].datetime == NOW
    assert re.fullmatch(r"<[^<>@\s]+@tideline\.example\.org>", got["Message-ID"])
    assert got["List-Unsubscribe"] == "<mailto:letters@tideline.example.org?subject=unsubscribe>"
    assert got["List-Unsubscribe-Post"] is None  # one-click needs an https address

    assert got.get_content_type() == "multipart/alternative"
    text, html = parts(got)
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert lines(html.get_content()) == rendered.email_html + "\n"
    assert lines(text.get_content()) == rendered.text


def test_the_server_receives_exactly_the_exported_bytes(serve: Serve,
                                                         message: EmailMessage) -> None:
    mailbox, port = serve()
    send_message(message, local(port))
    [envelope] = mailbox.envelopes
    assert envelope.original_content == export_eml(message)


def test_the_message_is_seven_bit_clean_with_short_lines(message: EmailMessage) -> None:
    data = export_eml(message)
    assert data.isascii()  # no SMTPUTF8 or 8BITMIME needed from any server
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_export_eml_round_trips(message: EmailMessage) -> None:
    data = export_eml(message)
    parsed = email.message_from_bytes(data, policy=POLICY)
    assert isinstance(parsed, EmailMessage)
    assert export_eml(parsed) == data
    friendly = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(friendly, EmailMessage)
    assert [(k, str(v)) for k, v in friendly.items()] == [
        (k, str(v)) for k, v in message.items()]
    assert [p.get_content() for p in parts(friendly)] == [
        lines(p.get_content()).replace("\n", "\r\n") for p in parts(message)]


def test_without_test_there_is_no_prefix_and_no_recipients_are_needed(
        chinese: tuple[Issue, RenderedIssue], settings: Settings) -> None:
    issue, rendered = chinese
    message = build_message(issue, rendered, settings, to=(), test=False, now=NOW)
    assert message["Subject"] == issue.subject
    assert message["To"] is None
    # the desk's unsubscribe is a Mailchimp merge tag: Mailchimp adds its own header
    assert message["List-Unsubscribe"] is None


@pytest.mark.parametrize(("unsubscribe", "test", "header", "one_click"), [
    (LONG_UNSUBSCRIBE, False, f"<{LONG_UNSUBSCRIBE}>", True),
    ("mailto:leave@tideline.example.org", False, "<mailto:leave@tideline.example.org>", False),
    ("http://old.example.org/unsubscribe", True, "<http://old.example.org/unsubscribe>", False),
    ("*|UNSUB|*", True, "<mailto:letters@tideline.example.org?subject=unsubscribe>", False),
    ("{{ UnsubscribeURL }}", False, None, False),
    ("https://tideline.example.org/unsubscribe?u={{ id }}", False, None, False),
    ("https://tideline.example.org/unsubscribe/%UNSUB%", False, None, False),
])
def test_list_unsubscribe_follows_the_desk(chinese: tuple[Issue, RenderedIssue],
                                           settings: Settings, unsubscribe: str, test: bool,
                                           header: str | None, one_click: bool) -> None:
    issue, rendered = chinese
    desk = dataclasses.replace(settings, unsubscribe=unsubscribe)
    message = build_message(issue, rendered, desk, to=TO, test=test, now=NOW)
    data = export_eml(message)
    got = email.message_from_bytes(data, policy=email.policy.default)
    assert got["List-Unsubscribe"] == header
    assert (got["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click") is one_click
    if header:  # written whole, never folded into encoded words
        assert f"List-Unsubscribe: {header}\r\n".encode() in data
    assert unsubscribe_address(desk, test=test) == (header and header[1:-1])


def test_an_explicit_list_unsubscribe_wins(chinese: tuple[Issue, RenderedIssue],
                                           settings: Settings) -> None:
    issue, rendered = chinese
    message = build_message(issue, rendered, settings, to=TO, test=True, now=NOW,
                            list_unsubscribe=LONG_UNSUBSCRIBE, message_id_domain="mx.example")
    assert message["List-Unsubscribe"] == f"<{LONG_UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@mx.example>")
    with pytest.raises(SendError, match="cannot be a List-Unsubscribe"):
        build_message(issue, rendered, settings, to=TO, test=True,
                      list_unsubscribe="javascript:alert(1)")


def test_a_desk_without_a_sender_is_told_to_add_one(chinese: tuple[Issue, RenderedIssue],
                                                    settings: Settings) -> None:
    issue, rendered = chinese
    with pytest.raises(SendError, match="no sender") as caught:
        build_message(issue, rendered, dataclasses.replace(settings, sender=None), to=TO,
                      test=True)
    assert "sender:" in caught.value.hint and "newsletter.yaml" in caught.value.hint


def test_a_sender_with_a_name_outside_ascii(chinese: tuple[Issue, RenderedIssue],
                                            settings: Settings) -> None:
    issue, rendered = chinese
    desk = dataclasses.replace(settings, sender=Sender(name="潮线编辑部, 周刊",
                                                        email="desk@tideline.example.org"))
    message = build_message(issue, rendered, desk, to=TO, test=True, now=NOW)
    got = email.message_from_bytes(export_eml(message), policy=email.policy.default)
    assert got["From"].addresses[0].display_name == "潮线编辑部, 周刊"
    assert got["Reply-To"] is None


@pytest.mark.parametrize("to", [(), ("not an address",), ("a@b.example", "@example.org")])
def test_recipients_are_checked(chinese: tuple[Issue, RenderedIssue], settings: Settings,
                                to: tuple[str, ...]) -> None:
    issue, rendered = chinese
    with pytest.raises(SendError):
        build_message(issue, rendered, settings, to=to, test=True)


# --- SMTP: TLS and login --------------------------------------------------------


@pytest.mark.usefixtures("trusted")
def test_starttls_then_login_then_send(serve: Serve, message: EmailMessage,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox, port = serve(tls="starttls", auth=True)  # AUTH offered only after STARTTLS
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    send_message(message, local(port, security="starttls", username=USER))
    assert received(mailbox)["Subject"].startswith("[TEST] Tideline 第47期")


@pytest.mark.usefixtures("trusted")
def test_implicit_tls_then_login_then_send(serve: Serve, message: EmailMessage) -> None:
    mailbox, port = serve(tls="tls", auth=True)
    send_message(message, local(port, security="tls", username=USER, password_env="MY_PASS"),
                 environ={"MY_PASS": PASSWORD})
    assert received(mailbox)["Message-ID"] == message["Message-ID"]


def test_a_refused_login_names_the_password_variable(serve: Serve, message: EmailMessage,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox, port = serve(auth=True)
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "wrong")
    with pytest.raises(SendError, match="refused the login for desk") as caught:
        send_message(message, local(port, username=USER))
    assert "535" in caught.value.message
    assert "$NEWSLETTER_SMTP_PASSWORD" in caught.value.hint
    assert "wrong" not in str(caught.value)
    assert mailbox.envelopes == []


def test_a_missing_password_is_reported_before_connecting(message: EmailMessage) -> None:
    with pytest.raises(SendError, match=r"\$NEWSLETTER_SMTP_PASSWORD is not set") as caught:
        send_message(message, local(1, username=USER), environ={})
    assert "export NEWSLETTER_SMTP_PASSWORD" in caught.value.hint


def test_no_password_in_the_clear_to_another_machine(message: EmailMessage) -> None:
    smtp = SmtpSettings(host="mail.example.org", security="none", username=USER)
    with pytest.raises(SendError, match="without encryption"):
        send_message(message, smtp, environ={"NEWSLETTER_SMTP_PASSWORD": PASSWORD})


@pytest.mark.usefixtures("trusted")
def test_starttls_to_a_server_without_it(serve: Serve, message: EmailMessage) -> None:
    _, port = serve()
    with pytest.raises(SendError, match="does not offer STARTTLS"):
        send_message(message, local(port, security="starttls"))


def test_an_untrusted_certificate_is_refused(serve: Serve, message: EmailMessage,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    mailbox, port = serve(tls="starttls")
    with pytest.raises(SendError, match=r"certificate of 127\.0\.0\.1 could not be verified"):
        send_message(message, local(port, security="starttls"))
    assert mailbox.envelopes == []


@pytest.mark.usefixtures("trusted")
def test_implicit_tls_to_a_plain_server(serve: Serve, message: EmailMessage) -> None:
    _, port = serve()
    with pytest.raises(SendError, match=r"TLS with 127\.0\.0\.1:\d+ failed") as caught:
        send_message(message, local(port, security="tls"))
    assert "587" in caught.value.hint


# --- SMTP: what the network does ---------------------------------------------------


def test_refused_recipients_are_named(serve: Serve, chinese: tuple[Issue, RenderedIssue],
                                      settings: Settings) -> None:
    issue, rendered = chinese
    mailbox, port = serve()
    everyone = build_message(issue, rendered, settings, to=["a@refused.example"], test=True)
    with pytest.raises(SendError, match=r"refused a@refused\.example \(550 5\.1\.1"):
        send_message(everyone, local(port))
    some = build_message(issue, rendered, settings, to=["b@refused.example", TO[0]], test=True)
    with pytest.raises(SendError, match=r"b@refused\.example .*other recipients were sent"):
        send_message(some, local(port))
    assert [e.rcpt_tos for e in mailbox.envelopes] == [[TO[0]]]


def test_an_unknown_host(message: EmailMessage, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):  # answered here: no resolver is asked
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    smtp = SmtpSettings(host="smtp.tideline.invalid", timeout=2)
    with pytest.raises(SendError, match=r'cannot find the mail server "smtp\.tideline\.invalid"'):
        send_message(message, smtp)


def test_a_closed_port(message: EmailMessage) -> None:
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(SendError, match="refused the connection") as caught:
            send_message(message, local(port))
    assert "587" in caught.value.hint


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_a_server_that_never_speaks(message: EmailMessage, security: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepted by the kernel, unread
        smtp = local(silent.getsockname()[1], security=security, timeout=0.5)
        with pytest.raises(SendError, match=r"did not answer within 0\.5 s"):
            send_message(message, smtp)


# --- settings from the environment ----------------------------------------------------


def test_environment_supplies_or_overrides_settings() -> None:
    assert smtp_from_environment(None, environ={}) is None
    assert smtp_from_environment(None, environ={"NEWSLETTER_SMTP_HOST": "smtp.example.org",
                                                "NEWSLETTER_SMTP_SECURITY": "TLS"}) == \
        SmtpSettings(host="smtp.example.org", port=465, security="tls")
    base = SmtpSettings(host="smtp.example.org", username="desk", timeout=7)
    assert smtp_from_environment(base, environ={}) == base
    assert smtp_from_environment(base, environ={"NEWSLETTER_SMTP_USER": "other",
                                                "NEWSLETTER_SMTP_PORT": "2525"}) == \
        dataclasses.replace(base, username="other", port=2525)
    # the usual port follows a changed security; a chosen one stays
    assert smtp_from_environment(base, environ={"NEWSLETTER_SMTP_SECURITY": "tls"}) == \
        dataclasses.replace(base, security="tls", port=465)
    odd = dataclasses.replace(base, port=2525)
    assert smtp_from_environment(odd, environ={"NEWSLETTER_SMTP_SECURITY": "tls"}) == \
        dataclasses.replace(odd, security="tls")


@pytest.mark.parametrize(("name", "value"), [
    ("NEWSLETTER_SMTP_PORT", "587a"), ("NEWSLETTER_SMTP_PORT", "70000"),
    ("NEWSLETTER_SMTP_PORT", "٥٨٧"), ("NEWSLETTER_SMTP_SECURITY", "ssl"),
])
def test_environment_values_are_checked(name: str, value: str) -> None:
    with pytest.raises(SendError, match=name):
        smtp_from_environment(SmtpSettings(host="smtp.example.org"), environ={name: value})


# --- the commands -----------------------------------------------------------------


def test_send_test_command_sends_through_the_desk_settings(serve: Serve, desk: Path) -> None:
    import subprocess
    import sys

    mailbox, port = serve()
    with (desk / "newsletter.yaml").open("a", encoding="utf-8") as settings_file:
        settings_file.write(f"\nsmtp:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n")
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "send-test", "issues/2026-11-20.yaml",
         "--to", "editor@example.org"], cwd=desk, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sent" in result.stdout and "editor@example.org" in result.stdout
    message = received(mailbox)
    assert str(message["Subject"]).startswith("[TEST] Tideline 第47期")
    assert [p.get_content_type() for p in parts(message)] == ["text/plain", "text/html"]


def test_send_test_without_a_server_says_what_to_set(desk: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("NEWSLETTER_SMTP")}
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "send-test", "issues/2026-11-20.yaml",
         "--to", "editor@example.org"], cwd=desk, capture_output=True, text=True, timeout=60,
        env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no SMTP server" in result.stderr and "smtp:" in result.stderr


def test_export_command_writes_eml_and_prints_parts(desk: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "newsletter", "export",
                               "issues/2026-11-27.yaml", *args], cwd=desk,
                              capture_output=True, text=True, timeout=60)

    html = run("--html")
    assert html.returncode == 0 and html.stdout.lstrip().lower().startswith("<!doctype html")
    assert "*|UNSUB|*" in html.stdout  # the desk's email service fills it in
    text = run("--text")
    assert text.returncode == 0 and "Tideline #48" in text.stdout
    assert run("--eml", "out.eml").returncode == 0
    parsed = email.message_from_bytes((desk / "out.eml").read_bytes(),
                                      policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert run().returncode == 1  # nothing asked for


def test_one_address_per_recipient(chinese: tuple[Issue, RenderedIssue],
                                   settings: Settings) -> None:
    issue, rendered = chinese
    with pytest.raises(SendError, match="more than one address"):
        build_message(issue, rendered, settings, to=["a@example.org, b@example.org"], test=True)


def test_a_desk_address_that_cannot_be_sent_from_is_a_clear_error(
        chinese: tuple[Issue, RenderedIssue], settings: Settings) -> None:
    from dataclasses import replace as changed

    issue, rendered = chinese
    assert settings.sender is not None
    odd = changed(settings, sender=changed(settings.sender, email="désk@example.org"))
    with pytest.raises(SendError, match=r"sender\.email"):
        build_message(issue, rendered, odd, to=["a@example.org"], test=True)
