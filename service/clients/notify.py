"""Outbound alerts: a Slack incoming webhook and email over SMTP."""
import email.message
import logging
import smtplib
from urllib.parse import urlsplit

from service.clients._http import make_session
from service.errors import Transient

log = logging.getLogger("companion.notify")


class Notifier:
    """Sends one alert to every configured channel; a failing channel does not stop the others."""

    def __init__(self, slack_url=None, smtp_url=None, mail_from=None, mail_to=(), ca_bundle=None, timeout=10.0):
        self.slack_url, self.smtp_url = slack_url, smtp_url
        self.mail_from, self.mail_to, self.timeout = mail_from, tuple(mail_to), timeout
        self.session = make_session(ca_bundle)

    @classmethod
    def from_settings(cls, s):
        """Build from Settings."""
        return cls(s.slack_webhook_url, s.smtp_url, s.alert_email_from, s.alert_email_to, s.ca_bundle,
                   s.http_timeout)

    def send(self, subject, text):
        """Deliver to Slack and email; return the channels that took it."""
        sent, errors = [], []
        for name, channel in (("slack", self._slack if self.slack_url else None),
                              ("email", self._mail if self.smtp_url and self.mail_to else None)):
            if channel is None:
                continue
            try:
                channel(subject, text)
                sent.append(name)
            except (OSError, smtplib.SMTPException, Transient) as why:
                errors.append(f"{name}: {type(why).__name__}")
        if errors and not sent:
            raise Transient("no alert channel accepted the message: " + ", ".join(errors))
        return sent

    def _slack(self, subject, text):
        resp = self.session.post(self.slack_url, json={"text": f"*{subject}*\n{text}"}, timeout=self.timeout)
        if resp.status_code >= 300:
            raise Transient(f"Slack answered {resp.status_code}")

    def _mail(self, subject, text):
        parts = urlsplit(self.smtp_url)
        msg = email.message.EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = subject, self.mail_from, ", ".join(self.mail_to)
        msg.set_content(text)
        smtp_cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with smtp_cls(parts.hostname, parts.port or 25, timeout=self.timeout) as smtp:
            if parts.username:
                smtp.login(parts.username, parts.password or "")
            smtp.send_message(msg)

    def post_json(self, url, body):
        """POST a JSON document (ticket webhook); Transient when the receiver does not take it."""
        resp = self.session.post(url, json=body, timeout=self.timeout)
        if resp.status_code >= 300:
            raise Transient(f"the ticket webhook answered {resp.status_code}")
