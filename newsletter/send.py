"""An issue as an email message: built, sent over SMTP, or written to a file.

`build_message` is pure: the rendered issue and the desk settings in, an
`EmailMessage` out (multipart/alternative, the text part first, UTF-8,
headers encoded so any server carries them). `send_message` is the I/O
shell: one SMTP conversation (STARTTLS, implicit TLS, or plain for a relay
on this machine), and the only place where smtplib's, ssl's and socket's
exceptions are turned into a `SendError` that says what to fix.

The SMTP password is never read from `newsletter.yaml`, never stored in a
value and never printed: `send_message` reads it from the environment
variable `SmtpSettings.password_env` just before logging in.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import ipaddress
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Literal, get_args

from .errors import SendError
from .model import Issue, RenderedIssue, Settings

__all__ = [
    "DEFAULT_PORTS",
    "ENVIRONMENT",
    "PASSWORD_ENV",
    "POLICY",
    "SECURITY",
    "TIMEOUT",
    "SendError",
    "SmtpSettings",
    "build_message",
    "export_eml",
    "send_message",
    "smtp_from_environment",
    "unsubscribe_address",
]

Security = Literal["starttls", "tls", "none"]
SECURITY: tuple[Security, ...] = get_args(Security)

#: The usual port for each kind of connection: submission with STARTTLS,
#: submission over implicit TLS (RFC 8314), and plain SMTP to a local relay.
DEFAULT_PORTS: Mapping[Security, int] = {"starttls": 587, "tls": 465, "none": 25}

#: The environment variables `smtp_from_environment` reads, by setting.
ENVIRONMENT = {
    "host": "NEWSLETTER_SMTP_HOST",
    "port": "NEWSLETTER_SMTP_PORT",
    "username": "NEWSLETTER_SMTP_USER",
    "security": "NEWSLETTER_SMTP_SECURITY",
}

#: Where the SMTP password is read from, unless the settings name another variable.
PASSWORD_ENV = "NEWSLETTER_SMTP_PASSWORD"
#: Seconds to wait for the connection and for each of the server's replies.
TIMEOUT = 20.0

#: Headers as RFC 2047 encoded words and bodies as base64 or quoted-printable
#: when they are not plain short-lined ASCII: any server carries the message
#: unchanged (no SMTPUTF8 or 8BITMIME needed, no line over 78 columns), and
#: the .eml file is the same bytes. `refold_source="none"` keeps the
#: List-Unsubscribe header as written (see `_set_list_unsubscribe`).
POLICY = email.policy.SMTP.clone(cte_type="7bit", refold_source="none")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpSettings:
    """Where and how to hand a message over.

    `security` is "starttls" (port 587: plain connection upgraded with
    STARTTLS before anything is said), "tls" (port 465: TLS from the first
    byte) or "none", for a relay on this machine or the tests; the password
    is never sent without TLS except to a loopback address. The server's
    certificate is checked against the system's CAs (`SSL_CERT_FILE` names
    another bundle). The password is only ever read from the environment
    variable `password_env`, never from settings.
    """

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str = ""
    password_env: str = PASSWORD_ENV
    timeout: float = TIMEOUT


# --- settings from the environment -------------------------------------------


def smtp_from_environment(base: SmtpSettings | None, *,
                          environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """`base` (from newsletter.yaml) with NEWSLETTER_SMTP_HOST, _PORT, _USER
    and _SECURITY applied over it; `None` when neither names a host.

    When the environment changes the security but not the port, a port that
    was the old security's usual one follows to the new one's (587 -> 465).
    """
    env = os.environ if environ is None else environ
    host = env.get(ENVIRONMENT["host"], "").strip() or (base.host if base else "")
    if not host:
        return None
    security = _security(env.get(ENVIRONMENT["security"], "").strip().lower(), base)
    return SmtpSettings(
        host=host,
        port=_port(env.get(ENVIRONMENT["port"], "").strip(), security, base),
        security=security,
        username=env.get(ENVIRONMENT["username"], base.username if base else "").strip(),
        password_env=base.password_env if base else PASSWORD_ENV,
        timeout=base.timeout if base else TIMEOUT,
    )


def _security(value: str, base: SmtpSettings | None) -> Security:
    if not value:
        return base.security if base else "starttls"
    for known in SECURITY:
        if value == known:
            return known
    raise SendError(f'{ENVIRONMENT["security"]}="{value}" is not a kind of connection',
                    hint="use starttls (port 587), tls (port 465) or none (a relay on "
                         "this machine)")


def _port(value: str, security: Security, base: SmtpSettings | None) -> int:
    if value:
        if value.isascii() and value.isdigit() and 0 < int(value) < 65536:
            return int(value)
        raise SendError(f'{ENVIRONMENT["port"]}="{value}" is not a port number',
                        hint="a number from 1 to 65535, usually 587 (starttls) or 465 (tls)")
    if base is None:
        return DEFAULT_PORTS[security]
    if base.security != security and base.port == DEFAULT_PORTS[base.security]:
        return DEFAULT_PORTS[security]
    return base.port


# --- the message -------------------------------------------------------------


def build_message(issue: Issue, rendered: RenderedIssue, settings: Settings, *,
                  to: Sequence[str], test: bool, list_unsubscribe: str | None = None,
                  now: dt.datetime | None = None,
                  message_id_domain: str | None = None) -> EmailMessage:
    """The issue as one email: text part, then the HTML part, both UTF-8.

    `test` prefixes the subject with "[TEST]" and requires recipients. The
    List-Unsubscribe header comes from `list_unsubscribe` when given, else
    from the desk's settings (see `unsubscribe_address`). `now` (aware) dates
    the message; the Message-ID's domain is the sender's unless given.
    """
    sender = settings.sender
    if sender is None:
        raise SendError("newsletter.yaml names no sender, so the email has no From address",
                        hint="add a sender: section with name: and email: (and reply_to: "
                             "if replies should go elsewhere) to newsletter.yaml")
    recipients = [_address(a) for a in to]
    if test and not recipients:
        raise SendError("a test send needs at least one recipient", hint="pass --to ADDRESS")
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("build_message needs an aware datetime")  # a bug, not the editor's

    message = EmailMessage(policy=POLICY)
    message["Subject"] = f"[TEST] {issue.subject}" if test else issue.subject
    message["From"] = _desk_address(sender.email, sender.name, "sender.email")
    if sender.reply_to:
        message["Reply-To"] = _desk_address(sender.reply_to, "", "sender.reply_to")
    if recipients:
        message["To"] = recipients
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = make_msgid(domain=_idna(message_id_domain
                                                    or sender.email.rpartition("@")[2]))
    unsubscribe = list_unsubscribe or unsubscribe_address(settings, test=test)
    if unsubscribe:
        _set_list_unsubscribe(message, unsubscribe)
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.email_html, subtype="html", charset="utf-8")
    message.set_boundary(_boundary(rendered))
    return message


def _boundary(rendered: RenderedIssue) -> str:
    """Fixed from the content, so every export of a message is the same bytes
    (the generator would draw a new random one each time). "=_" never occurs
    in base64 or quoted-printable text."""
    digest = hashlib.sha256(f"{rendered.text}\0{rendered.email_html}".encode())
    return f"=_{digest.hexdigest()[:40]}"


def unsubscribe_address(settings: Settings, *, test: bool) -> str | None:
    """The address for the List-Unsubscribe header, or None for no header.

    The desk's `unsubscribe` when it is a plain http(s) or mailto address.
    A merge tag (`*|UNSUB|*`, `{{ UnsubscribeURL }}`) is filled in per
    reader by the email service, which adds its own header, so a message
    for the service gets none; a test send, which no service touches, gets
    `mailto:` the desk's reply address (the sender's when there is none)
    with the subject "unsubscribe".
    """
    written = "".join(settings.unsubscribe.split())
    if _is_header_url(written):
        return written
    if test and settings.sender:
        mailto = f"mailto:{settings.sender.reply_to or settings.sender.email}?subject=unsubscribe"
        return mailto if _is_header_url(mailto) else None  # an address outside ASCII: none
    return None


# plain ASCII URL characters, without the ones merge tags are made of ({ } | [ ] $)
_HEADER_URL = re.compile(r"(?:https?://|mailto:)[A-Za-z0-9\-._~:/?#@!&'()*+,;=%]+", re.IGNORECASE)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _is_header_url(value: str) -> bool:
    return bool(_HEADER_URL.fullmatch(value)) and not _BAD_PERCENT.search(value)


def _set_list_unsubscribe(message: EmailMessage, url: str) -> None:
    """List-Unsubscribe, and List-Unsubscribe-Post for an https address.

    Set raw: the header registry folds a long URL into encoded words, which
    no mail client reads as a URL. RFC 8058 one-click needs https.
    """
    url = url.strip().removeprefix("<").removesuffix(">")
    if not _is_header_url(url):
        raise SendError(f'"{url}" cannot be a List-Unsubscribe address',
                        hint="give an https:// or mailto: address without merge tags")
    message.set_raw("List-Unsubscribe", f"<{url}>")
    if url.lower().startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _desk_address(addr: str, name: str, field: str) -> Address:
    """An address from newsletter.yaml, or a clear error (never a traceback)."""
    local, _, domain = addr.rpartition("@")
    try:
        if not local.isascii():
            raise ValueError(addr)
        return Address(display_name=name, addr_spec=f"{local}@{_idna(domain)}")
    except (ValueError, IndexError, HeaderParseError, UnicodeError) as exc:
        raise SendError(f'{field} "{addr}" cannot be sent from',
                        hint="use an address whose part before the @ is plain ASCII "
                             "(letters, digits, . _ -)") from exc


def _address(written: str) -> Address:
    if len(getaddresses([written])) != 1:
        raise SendError(f'"{written}" is more than one address',
                        hint="repeat --to for each address")
    name, addr = parseaddr(written)
    try:
        if "@" not in addr:
            raise ValueError(addr)
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as exc:  # the parser raises all three
        raise SendError(f'"{written}" is not an email address',
                        hint="write it as name@example.org") from exc


def _idna(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def export_eml(message: EmailMessage) -> bytes:
    """The message as an .eml file: exactly the bytes a send would carry (CRLF)."""
    return message.as_bytes(policy=message.policy)


# --- sending -----------------------------------------------------------------


def send_message(message: EmailMessage, smtp: SmtpSettings, *,
                 environ: Mapping[str, str] | None = None) -> None:
    """Hand `message` to the SMTP server for its To/Cc/Bcc recipients.

    Raises SendError, naming the server and saying what to check, when the
    password is missing, the host is unknown, the connection is refused or
    times out, TLS fails, the login is refused, or the server refuses the
    sender or any recipient (the others may have received the message).
    """
    env = os.environ if environ is None else environ
    password = _password(smtp, env)
    if not any(message.get_all(field) for field in ("To", "Cc", "Bcc")):
        raise SendError("the message has no recipients", hint="pass --to ADDRESS")
    step = _Step()
    try:
        with _connect(smtp, step) as client:
            if smtp.username:
                step.now = "logging in"
                client.login(smtp.username, password)
            step.now = "sending"
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise _explain(exc, smtp, step.now) from exc
    if refused:
        raise _refused(refused, smtp, some=True)


class _Step:
    """What the conversation was doing, for the error message."""

    now = "connecting"


def _password(smtp: SmtpSettings, env: Mapping[str, str]) -> str:
    if not smtp.username:
        return ""
    password = env.get(smtp.password_env, "")
    if not password:
        raise SendError(f"no SMTP password for {smtp.username}: ${smtp.password_env} is not set",
                        hint=f"export {smtp.password_env}=... in the shell (or the CI "
                             "secret) that runs newsletter; it is never read from a file")
    if smtp.security == "none" and not _is_loopback(smtp.host):
        raise SendError(f"will not send the password for {smtp.username} to {smtp.host} "
                        "without encryption",
                        hint='use security "starttls" (port 587) or "tls" (port 465); '
                             '"none" is for a relay on this machine')
    return password


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextmanager
def _connect(smtp: SmtpSettings, step: _Step) -> Iterator[smtplib.SMTP]:
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.security == "starttls":
            step.now = "starting TLS"
            client.starttls(context=ssl.create_default_context())
        yield client
        with suppress(smtplib.SMTPException, OSError):  # the message is already accepted
            client.quit()
    finally:
        client.close()  # after an error, without QUIT: the connection may be stuck


# --- smtplib, ssl and socket errors, explained once ---------------------------


def _explain(exc: BaseException, smtp: SmtpSettings, step: str) -> SendError:
    """The one place where third-party exceptions become SendError."""
    server = f"{smtp.host}:{smtp.port}"
    ports = "usually 587 with security starttls, 465 with tls"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendError(
            f"{server} refused the login for {smtp.username}: {_reply(exc)}",
            hint=f"check the user name and the password in ${smtp.password_env}; some "
                 "providers want an app password or an API key instead")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients, smtp, some=False)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return SendError(f"{server} refused the sender {exc.sender}: {_reply(exc)}",
                         hint="many servers only accept the address you log in with: "
                              "check sender.email in newsletter.yaml")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _not_supported(exc, smtp, step)
    if _timed_out(exc):
        return SendError(f"{server} did not answer within {smtp.timeout:g} s ({step})",
                         hint=f"check the host and the port ({ports}), and that no "
                              "firewall blocks the connection")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(
            f"the certificate of {smtp.host} could not be verified: "
            f"{exc.verify_message or exc.reason}",
            hint="check the host name; a server with a private CA needs SSL_CERT_FILE "
                 "pointing at that CA's certificate")
    if isinstance(exc, ssl.SSLError):
        return SendError(f"TLS with {server} failed ({step}): {exc.reason or exc}",
                         hint=f"check that security suits the port: {ports}")
    if isinstance(exc, socket.gaierror):
        return SendError(f'cannot find the mail server "{smtp.host}": {exc.strerror or exc}',
                         hint=f"check the host name in newsletter.yaml or "
                              f"${ENVIRONMENT['host']}, and the network")
    if isinstance(exc, ConnectionRefusedError):
        return SendError(f"{server} refused the connection",
                         hint=f"nothing listens there: check the port ({ports})")
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(f"{server} answered {_reply(exc)} while {step}",
                         hint="the server's message says why; check the settings it names")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendError(f"{server} closed the connection while {step}",
                         hint=f"check that security suits the port: {ports}")
    if isinstance(exc, OSError):
        return SendError(f"cannot reach {server}: {exc.strerror or exc}",
                         hint="check the host, the port and the network")
    return SendError(f"{server}: {exc} (while {step})",
                     hint="the mail server's message says why")


def _not_supported(exc: smtplib.SMTPNotSupportedError, smtp: SmtpSettings,
                   step: str) -> SendError:
    server = f"{smtp.host}:{smtp.port}"
    if step == "starting TLS":
        return SendError(f"{server} does not offer STARTTLS",
                         hint='use the provider\'s submission port (587), or security "tls" '
                              "on port 465")
    if step == "logging in":
        return SendError(f"{server} does not offer a login",
                         hint="leave the user name empty for a server that needs none, or "
                              "use the provider's submission port (587)")
    return SendError(f"{server} cannot take this message: {exc}",
                     hint="an address outside ASCII needs a server with SMTPUTF8")


def _timed_out(exc: BaseException) -> bool:
    # smtplib reports a reply that never came as SMTPServerDisconnected, raised
    # while handling the socket's TimeoutError
    return isinstance(exc, TimeoutError) or (
        isinstance(exc, smtplib.SMTPServerDisconnected)
        and isinstance(exc.__context__, TimeoutError))


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _refused(recipients: Mapping[str, tuple[int, bytes]], smtp: SmtpSettings, *,
             some: bool) -> SendError:
    listed = "; ".join(f"{address} ({code} {' '.join(reply.decode('utf-8', 'replace').split())})"
                       for address, (code, reply) in recipients.items())
    return SendError(
        f"{smtp.host}:{smtp.port} refused {listed}"
        + ("; the other recipients were sent the message" if some else ""),
        hint="check the addresses; a server may only relay to some domains before login")
