"""A small client for Dovecot's doveadm HTTP API (``DOVEADM_URL``).

One command per request: ``POST <url>`` with ``[[command, parameters,
tag]]``, authorised by ``X-Dovecot-API <base64 of the API key>``; the answer
is ``[["doveadmResponse", rows, tag]]`` or ``[["error", {...}, tag]]``.
Every failure becomes a :class:`DoveadmError` (a ``MailStoreError``) whose
message an admin can read and act on.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.mailstore import MailStoreError

# doveadm's exit codes (sysexits.h) as doveadm uses them.
EXIT_EXISTS = 65
EXIT_NO_USER = 67
EXIT_NOT_FOUND = 68
EXIT_CODES = {
    64: _("the request was malformed"),
    65: _("it already exists"),
    67: _("Dovecot does not know this user"),
    68: _("the folder does not exist"),
    73: _("it could not be created"),
    75: _("Dovecot could not do it now (temporary failure); try again"),
    77: _("permission denied"),
    78: _("Dovecot's configuration is wrong"),
}


class DoveadmError(MailStoreError):
    """Dovecot did not do what was asked."""

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Doveadm:
    url: str
    api_key: str
    timeout: float = 10.0

    @classmethod
    def from_settings(cls) -> Doveadm:
        from django.conf import settings

        return cls(settings.DOVEADM_URL, settings.DOVEADM_API_KEY, settings.DOVEADM_TIMEOUT)

    def run(self, command: str, **parameters) -> list[dict]:
        """Run one doveadm command; its rows, or DoveadmError."""
        body = json.dumps([[command, parameters, "c"]]).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "X-Dovecot-API "
                + base64.b64encode(self.api_key.encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise DoveadmError(
                    gettext(
                        "The mail server (Dovecot) refused the console's API key "
                        "(DOVEADM_API_KEY does not match doveadm_api_key). Nothing was changed."
                    )
                ) from error
            raise DoveadmError(
                gettext(
                    "The mail server (Dovecot) answered HTTP %(code)s to %(command)s. "
                    "Nothing was changed."
                )
                % {"code": error.code, "command": command}
            ) from error
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DoveadmError(
                gettext(
                    "The mail server (Dovecot) cannot be reached at %(url)s (%(reason)s). "
                    "Nothing was changed."
                )
                % {"url": self.url, "reason": reason}
            ) from error
        except ValueError as error:
            raise DoveadmError(self._not_understood(command)) from error
        try:
            kind, payload, _tag = answer[0]
        except (IndexError, TypeError, ValueError) as error:
            raise DoveadmError(self._not_understood(command)) from error
        if kind == "doveadmResponse":
            return payload
        exit_code = payload.get("exitCode") if isinstance(payload, dict) else None
        reason = EXIT_CODES.get(exit_code) or gettext("error %(code)s") % {
            "code": exit_code or payload
        }
        raise DoveadmError(
            gettext("The mail server (Dovecot) could not do %(command)s: %(reason)s.")
            % {"command": command, "reason": reason},
            exit_code=exit_code,
        )

    @staticmethod
    def _not_understood(command: str) -> str:
        return gettext(
            "The mail server (Dovecot) gave an answer to %(command)s the console does not "
            "understand. Nothing was changed."
        ) % {"command": command}

    # --- the commands the console uses ---------------------------------

    def mailbox_status(self, user: str, mask: str = "*") -> list[dict]:
        """[{mailbox, messages, vsize}] for every mailbox matching ``mask``."""
        rows = self.run("mailboxStatus", user=user, field=["messages", "vsize"], mailboxMask=[mask])
        return [
            {"mailbox": r["mailbox"], "messages": int(r["messages"]), "vsize": int(r["vsize"])}
            for r in rows
        ]

    def expunge(self, user: str, mailbox: str = "*") -> None:
        self.run("expunge", user=user, query=["mailbox", mailbox, "all"])

    def move(self, user: str, source: str, destination: str = "INBOX") -> None:
        self.run(
            "move", user=user, destinationMailbox=destination, query=["mailbox", source, "all"]
        )

    def mailbox_delete(self, user: str, mailbox: str) -> None:
        self.run("mailboxDelete", user=user, mailbox=[mailbox], subscriptions=True)

    def mailbox_create(self, user: str, mailbox: str) -> None:
        """Create and subscribe ``mailbox``."""
        self.run("mailboxCreate", user=user, mailbox=[mailbox], subscriptions=True)

    def auth_cache_flush(self, user: str) -> int:
        rows = self.run("authCacheFlush", user=[user])
        return int(rows[0]["entries"]) if rows else 0

    def quota_get(self, user: str) -> dict[str, dict]:
        """{"STORAGE": {...}, "MESSAGE": {...}}; STORAGE value/limit in bytes
        (doveadm answers in kilobytes), limit None when unlimited."""
        quota = {}
        for row in self.run("quotaGet", user=user):
            scale = 1024 if row["type"] == "STORAGE" else 1
            limit = row.get("limit")
            quota[row["type"]] = {
                "value": int(row["value"]) * scale,
                "limit": None if limit in (None, "-", "0") else int(limit) * scale,
            }
        return quota
