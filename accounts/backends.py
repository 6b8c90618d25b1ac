"""How a signed-in session finds its account."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import Account


class AccountBackend(ModelBackend):
    """Django's password check, with the account loaded together with its
    office: every console page checks that the two match
    (``office_admin_required``), and reading the office in the same
    statement saves that page a round trip."""

    def get_user(self, user_id):
        try:
            user = Account._default_manager.select_related("office").get(pk=user_id)
        except Account.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
