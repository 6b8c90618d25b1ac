"""How a signed-in session finds its account."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import Account
from accounts.sessions import account_loaded_with


class AccountBackend(ModelBackend):
    """Django's password check, with the account loaded together with its
    office: every console page checks that the two match
    (``office_admin_required``), and reading the office in the same
    statement saves that page a round trip.

    While Django resolves a request's user, the account usually came with
    the session's row already (``accounts/sessions.py``): then it is taken
    from there, and only queried here otherwise. Either way it must still
    be allowed to sign in (``user_can_authenticate``)."""

    def get_user(self, user_id):
        user = account_loaded_with(user_id)
        if user is None:
            try:
                user = Account._default_manager.select_related("office").get(pk=user_id)
            except Account.DoesNotExist:
                return None
        return user if self.user_can_authenticate(user) else None

    async def aget_user(self, user_id):
        user = account_loaded_with(user_id)
        if user is None:
            try:
                user = await Account._default_manager.select_related("office").aget(pk=user_id)
            except Account.DoesNotExist:
                return None
        return user if self.user_can_authenticate(user) else None
