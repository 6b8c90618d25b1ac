import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from accounts.models import AccessLog, Account, Folder, Mailbox, Message, Office, SenderAddress
from subaccounts.models import SubAccount
from tests.subaccounts.helpers import assert_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", domain="demo.test", accounts=200, admin_password="pw-123456", seed=7)
    return Office.objects.get(domain="demo.test")


def test_counters_equal_the_messages_exactly(demo):
    sums = {
        row["mailbox"]: (row["total"], row["n"])
        for row in Message.objects.filter(office=demo)
        .values("mailbox")
        .annotate(total=Sum("size_bytes"), n=Count("id"))
    }
    for mailbox in Mailbox.objects.filter(office=demo):
        assert (mailbox.used_bytes, mailbox.message_count) == sums.get(mailbox.pk, (0, 0))


def test_demo_office_has_the_variety_an_admin_sees(demo):
    accounts = Account.objects.filter(office=demo)
    assert accounts.count() == 200
    assert accounts.filter(kind="group").exists() and accounts.filter(kind="shared").exists()
    assert accounts.filter(mailbox__isnull=True).exists()
    assert accounts.filter(status="suspended").exists()
    admin = accounts.get(login_id="admin")
    assert admin.is_office_admin and admin.check_password("pw-123456") and admin.has_mailbox()
    with_subs = accounts.filter(subaccount_count__gt=0).count()
    users = accounts.filter(kind="user", mailbox__isnull=False).count()
    assert 0.15 < with_subs / users < 0.45
    assert AccessLog.objects.filter(office=demo, succeeded=False).exists()
    assert AccessLog.objects.filter(office=demo, ip__contains=":").exists()
    assert Mailbox.objects.filter(office=demo, usage_share__gte=9000).exists()


def test_every_subaccount_has_its_folder_address_and_sender_entry(demo):
    for sub in SubAccount.objects.filter(office=demo).select_related("folder", "owner"):
        assert sub.folder.parent.role == Folder.Role.INBOX
        assert sub.folder.name == sub.local_part
        assert sub.address.account_id == sub.owner_id
        assert SenderAddress.objects.filter(
            account=sub.owner, address=f"{sub.local_part}@demo.test"
        ).exists()
    for account in Account.objects.filter(office=demo, subaccount_count__gt=0):
        assert account.subaccounts.count() == account.subaccount_count


def test_demo_keeps_every_invariant_the_services_keep(demo):
    assert_consistent(demo)
    assert SubAccount.objects.filter(office=demo).exists()


def test_last_access_mirrors_the_newest_successful_login(demo):
    for mailbox in Mailbox.objects.filter(office=demo).select_related("account")[:60]:
        newest = (
            AccessLog.objects.filter(account=mailbox.account, succeeded=True)
            .order_by("-last_at")
            .first()
        )
        assert mailbox.last_access_at == (newest.at if newest else None)


def test_same_seed_gives_the_same_office(db):
    call_command("seed_demo", domain="a.test", accounts=30, seed=3, admin_password="x-123456")
    call_command("seed_demo", domain="b.test", accounts=30, seed=3, admin_password="x-123456")
    names = [
        list(
            Account.objects.filter(office__domain=d).order_by("pk").values_list("name", "login_id")
        )
        for d in ("a.test", "b.test")
    ]
    assert names[0] == names[1]


def test_adding_an_office_leaves_the_others_alone(demo):
    before = Account.objects.filter(office=demo).count()
    call_command("seed_demo", domain="second.test", accounts=10, admin_password="x-123456")
    assert Account.objects.filter(office=demo).count() == before
    call_command("seed_demo", domain="second.test", accounts=10, if_missing=True)
    assert Account.objects.filter(office__domain="second.test").count() == 10


def test_the_demo_fills_only_the_embedded_mail_store(db, settings):
    settings.MAIL_STORE = "tests.subaccounts.test_builders.RecordingStore"
    with pytest.raises(CommandError, match="MAIL_STORE=db"):
        call_command("seed_demo", domain="c.test", accounts=10, admin_password="x-123456")
    with pytest.raises(CommandError, match="MAIL_STORE=db"):
        call_command("bench", accounts=10, repeat=1)
    assert not Office.objects.filter(domain="c.test").exists()
