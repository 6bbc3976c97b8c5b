"""Composing and delivering one message: SMTP in production, files in PASSERELLE_HOME/outbox in the
embedded mode (shown at /dev/courriels)."""
from __future__ import annotations

import email.policy
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from marketplace.core.settings import MailBackend, Settings


@dataclass(frozen=True)
class OutboxMail:
    id: str
    to: str
    subject: str
    date: str
    body: str


def compose(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage(policy=email.policy.SMTPUTF8)
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(settings.mail_from)[1].split("@")[-1] or "passerelle")
    message.set_content(body)
    return message


def deliver_message(settings: Settings, message: EmailMessage) -> str:
    if settings.effective_mail_backend is MailBackend.smtp:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
        return message["Message-ID"]
    outbox = settings.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.eml"
    tmp = outbox / (name + ".tmp")
    tmp.write_bytes(message.as_bytes())
    tmp.rename(outbox / name)  # atomic: the outbox page never reads half a mail
    return name


def outbox(settings: Settings, limit: int = 100) -> list[OutboxMail]:
    directory: Path = settings.outbox_dir
    if not directory.exists():
        return []
    files = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    mails = []
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        mails.append(OutboxMail(path.stem, msg["To"], msg["Subject"], msg["Date"],
                                body.get_content() if body else ""))
    return mails
