"""Email over SMTP, with STARTTLS (or TLS from the first byte) and login.

The server comes from the `smtp` section of the budget file or the LLMLEDGER_SMTP_*
environment variables; an email channel may override any of it. The password is read
from the environment variable that `password_env` names (LLMLEDGER_SMTP_PASSWORD by
default), so that it never lands in the budget store.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, fields, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping

from .base import (Alert, ChannelConfigError, PermanentError, SendSettings, TransientError,
                   reject_unknown_keys, require_env_name, require_text)

SECURITY_MODES = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail. None means "not given here": see `over`."""

    host: str | None = None
    port: int | None = None
    security: str | None = None  # starttls (the default), tls, or none
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None
    ca_file: str | None = None  # a CA bundle for a server with a private certificate

    KEYS = ("host", "port", "security", "username", "password_env", "sender", "ca_file")

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> SmtpSettings:
        reject_unknown_keys(config, cls.KEYS)
        given = {key: require_text(config, key) for key in ("host", "username", "sender", "ca_file")
                 if key in config}
        if "password_env" in config:
            given["password_env"] = require_env_name(config, "password_env")
        if "port" in config:
            port = config["port"]
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                raise ChannelConfigError("port", "must be a port number 1-65535")
            given["port"] = port
        if "security" in config:
            if config["security"] not in SECURITY_MODES:
                raise ChannelConfigError("security", f"must be one of: {', '.join(SECURITY_MODES)}")
            given["security"] = config["security"]
        if "sender" in given:
            check_address(given["sender"], "sender")
        return cls(**given)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SmtpSettings:
        """LLMLEDGER_SMTP_HOST, _PORT, _SECURITY, _USERNAME, _FROM and _CA_FILE; the password
        stays in LLMLEDGER_SMTP_PASSWORD and is read at send time."""
        config: dict[str, Any] = {}
        for key, name in (("host", "HOST"), ("security", "SECURITY"), ("username", "USERNAME"),
                          ("sender", "FROM"), ("ca_file", "CA_FILE")):
            if environ.get(f"LLMLEDGER_SMTP_{name}"):
                config[key] = environ[f"LLMLEDGER_SMTP_{name}"]
        if environ.get("LLMLEDGER_SMTP_PORT"):
            try:
                config["port"] = int(environ["LLMLEDGER_SMTP_PORT"])
            except ValueError:
                raise ChannelConfigError("port", "LLMLEDGER_SMTP_PORT must be a port number") from None
        return cls.parse(config)

    def over(self, defaults: SmtpSettings | None) -> SmtpSettings:
        """These settings, with the ones not given here taken from `defaults`."""
        if defaults is None:
            return self
        return replace(defaults, **{f.name: getattr(self, f.name) for f in fields(self)
                                    if getattr(self, f.name) is not None})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def check_address(address: str, key: str) -> str:
    # A line break in an address would let it add headers of its own.
    if "@" not in address or any(c.isspace() for c in address) or len(address) > 254:
        raise ChannelConfigError(key, f"{address!r} is not an email address")
    return address


@dataclass(frozen=True)
class EmailChannel:
    recipients: tuple[str, ...]
    smtp: SmtpSettings = SmtpSettings()

    type = "email"
    KEYS = ("type", "recipients", "smtp")

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> EmailChannel:
        reject_unknown_keys(config, cls.KEYS)
        recipients = config.get("recipients")
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not recipients:
            raise ChannelConfigError("recipients", "must be a list of email addresses"
                                     if "recipients" in config else "is required")
        for address in recipients:
            if not isinstance(address, str):
                raise ChannelConfigError("recipients", f"{address!r} is not an email address")
            check_address(address, "recipients")
        smtp = config.get("smtp") or {}
        if not isinstance(smtp, Mapping):
            raise ChannelConfigError("smtp", "must be a mapping of SMTP settings")
        try:
            settings = SmtpSettings.parse(smtp)
        except ChannelConfigError as exc:
            raise ChannelConfigError(f"smtp.{exc.key}", exc.message) from None
        return cls(recipients=tuple(recipients), smtp=settings)

    def to_dict(self) -> dict[str, Any]:
        smtp = self.smtp.to_dict()
        return {"type": self.type, "recipients": list(self.recipients), **({"smtp": smtp} if smtp else {})}

    def target(self) -> str:
        return ", ".join(self.recipients)

    def send(self, alert: Alert, settings: SendSettings) -> str:
        smtp = self.smtp.over(settings.smtp)
        if not smtp.host:
            raise PermanentError("no SMTP server configured: set smtp.host in the budget file "
                                 "or LLMLEDGER_SMTP_HOST")
        security = smtp.security or "starttls"
        password = ""
        if smtp.username:
            password_env = smtp.password_env or "LLMLEDGER_SMTP_PASSWORD"
            password = settings.environ.get(password_env, "")
            if not password:
                raise PermanentError(f"the SMTP password variable {password_env} is not set")
        message = self._message(alert, smtp.sender or smtp.username or "llmledger@localhost")
        try:
            return self._transmit(message, smtp, security, password, settings.timeout)
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(detail) from None
            raise PermanentError(detail) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"all recipients refused: {', '.join(exc.recipients)}") from None
        except ssl.SSLError as exc:  # a certificate that does not verify will not verify next time
            raise PermanentError(f"TLS with {smtp.host}:{_port(smtp, security)} failed: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out
            raise TransientError(f"cannot send through {smtp.host}:{_port(smtp, security)}: {exc}") from None

    def _message(self, alert: Alert, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[llmledger] {alert.title}"
        message["From"] = sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="llmledger")
        message["X-Llmledger-Alert-Key"] = alert.key
        lines = [alert.summary, ""] + [f"{label}: {value}" for label, value in alert.fields]
        if alert.link:
            lines += ["", alert.link]
        what = "report" if alert.kind == "report" else "alert"
        message.set_content("\n".join(lines + ["", f"-- llmledger {what} {alert.key}"]) + "\n")
        if alert.html:
            # multipart/alternative (text, then HTML) with the HTML's images related to it: the
            # images travel inside the message and the HTML shows them as cid: URLs, which
            # mail clients display (many refuse data: URLs, and remote images are blocked).
            message.add_alternative(alert.html, subtype="html")
            html_part = message.get_payload()[-1]
            for image in alert.images:
                maintype, _, subtype = image.mime.partition("/")
                html_part.add_related(image.data, maintype=maintype, subtype=subtype, cid=f"<{image.cid}>",
                                      filename=image.filename or None, disposition="inline")
        return message

    def _transmit(self, message: EmailMessage, smtp: SmtpSettings, security: str, password: str,
                  timeout: float) -> str:
        context = ssl.create_default_context(cafile=smtp.ca_file or None)
        port = _port(smtp, security)
        if security == "tls":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, port, timeout=timeout, context=context)
        else:
            connection = smtplib.SMTP(smtp.host, port, timeout=timeout)
        with connection:
            connection.ehlo()
            if security == "starttls":
                if not connection.has_extn("starttls"):
                    raise PermanentError(f"{smtp.host}:{port} does not offer STARTTLS "
                                         "(set security: none only for a server on a trusted network)")
                connection.starttls(context=context)
                connection.ehlo()
            if smtp.username:
                connection.login(smtp.username, password)
            refused = connection.send_message(message)
        accepted = len(self.recipients) - len(refused)
        return f"SMTP 250, {accepted} of {len(self.recipients)} recipients accepted"


def _port(smtp: SmtpSettings, security: str) -> int:
    return smtp.port or _DEFAULT_PORTS[security]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
