"""The session engine (``SESSION_ENGINE``): Django's database sessions in
``accounts.AccountSession``, whose row also names the signed-in account.

Loading a session reads the row together with its account and the
account's office, and keeps that account on the store. While Django's
``get_user`` resolves ``request.user`` (``mailadmin.middleware``'s
``AuthenticationMiddleware`` marks that stretch with
:func:`signed_in_with`), ``AccountBackend.get_user`` takes the account from
there instead of querying it again: a signed-in page starts with one query
instead of two. Django's checks on that account (the backend named in the
session, the password hash, ``is_active``) are unchanged.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.utils import timezone

# The session whose user Django's get_user is resolving in this thread or
# task, None outside that call. A ContextVar, so one request's account is
# never seen by another running beside it.
_resolving: ContextVar[SessionStore | None] = ContextVar("resolving_session", default=None)


def _account_id(data: dict):
    """The signed-in account's id in session data, as the column stores it."""
    value = data.get(SESSION_KEY)
    if value is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(value)
    except ValidationError:
        return None


class SessionStore(DatabaseSessionStore):
    # Keeps Django's class name: the session data's signature is salted with
    # it, so rows written by Django's own store read unchanged here.

    def __init__(self, session_key=None):
        super().__init__(session_key)
        # The account the session's row came with (None when nobody is
        # signed in, or before the session is loaded).
        self.loaded_account = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import AccountSession

        return AccountSession

    def create_model_instance(self, data):
        row = super().create_model_instance(data)
        row.account_id = _account_id(data)
        return row

    async def acreate_model_instance(self, data):
        row = await super().acreate_model_instance(data)
        row.account_id = _account_id(data)
        return row

    def _query(self):
        return self.model.objects.select_related("account__office")

    # Django's own lookups (live rows only, a bad key logged and dropped),
    # with the account and its office in the same statement.
    def _get_session_from_db(self):
        self.loaded_account = None
        try:
            row = self._query().get(session_key=self.session_key, expire_date__gt=timezone.now())
        except (self.model.DoesNotExist, SuspiciousOperation) as e:
            return self._not_found(e)
        return self._found(row)

    async def _aget_session_from_db(self):
        self.loaded_account = None
        try:
            row = await self._query().aget(
                session_key=self.session_key, expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation) as e:
            return self._not_found(e)
        return self._found(row)

    def _found(self, row):
        self.loaded_account = row.account
        return row

    def _not_found(self, error: Exception) -> None:
        # As Django's: a tampered key is logged; either way the key is dropped.
        if isinstance(error, SuspiciousOperation):
            logger = logging.getLogger(f"django.security.{error.__class__.__name__}")
            logger.warning(str(error))
        self._session_key = None

    def clear(self):
        # Emptied (signed out): the row's account is no longer this session's.
        super().clear()
        self.loaded_account = None


@contextmanager
def signed_in_with(session):
    """While the block runs, :func:`account_loaded_with` may answer from
    ``session``'s row (any session store; only ours brings an account)."""
    token = _resolving.set(session)
    try:
        yield
    finally:
        _resolving.reset(token)


def account_loaded_with(user_id):
    """The account the session being resolved was loaded with, if it is
    ``user_id``'s; otherwise None (then the caller queries it)."""
    account = getattr(_resolving.get(), "loaded_account", None)
    if account is not None and account.pk == user_id:
        return account
    return None
