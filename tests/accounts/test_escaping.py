"""Rows of the list and the pane are rendered in Python for speed: the
names and addresses in them must still be escaped."""

import pytest

from accounts.models import Account

pytestmark = pytest.mark.django_db

PAYLOAD = '<img src=x onerror="alert(1)">&'


def test_a_name_with_markup_is_shown_as_text_in_the_list_and_the_pane(admin_client, org):
    Account.objects.filter(pk=org.kim.pk).update(name=PAYLOAD)
    for url in (
        "/gabiaedu.com/manage/mail/accounts/",
        "/gabiaedu.com/manage/mail/accounts/?q=img",
        "/gabiaedu.com/manage/mail/accounts/minjun.kim/",
    ):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            body = admin_client.get(url, **headers).content.decode()
            assert PAYLOAD not in body, url
            assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in body, url
