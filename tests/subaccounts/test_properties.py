"""Random sequences of add, delete, deliver and empty keep every rule.

A hypothesis state machine drives the real services against a reference
model that predicts each step's outcome (added or refused, how many
messages move). After every step it checks: the counters equal the sum and
count of the messages; no message disappears except by emptying; every
sub-account has exactly one folder inside the inbox, one address and one
sender entry; nobody has more than five. Each example runs inside a
transaction that is rolled back, so examples never see each other's rows.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from accounts.models import Account, Folder, Message
from accounts.services import DomainError, mailbox_empty, message_deliver
from subaccounts.models import SubAccount
from subaccounts.services import subaccount_add, subaccount_delete
from subaccounts.validators import validate_subaccount_id
from tests.conftest import build_office
from tests.subaccounts.helpers import assert_consistent, inbox

# Weighted towards the users that can have sub-accounts, so that sequences
# reach the limit of five; group mail and an account without mail are refused.
OWNERS = st.sampled_from(["kim"] * 3 + ["lee"] * 2 + ["group", "nomail"])
USERS = st.sampled_from(["kim", "lee"])
# "projects" clashes with a folder in kim's inbox; seoyeon.lee and team-sales
# are accounts' IDs; postmaster is reserved; -bad is invalid; K1 and L2 are
# other cases of k1 and l2.
IDS = st.sampled_from(
    ["k1", "K1", "k2", "k3", "k4", "k5", "k6", "l1", "l2", "L2"]
    + ["projects", "seoyeon.lee", "team-sales", "postmaster", "-bad"]
)


class Office(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.org = build_office("gabiaedu.com")
        Folder.objects.create(
            office=self.org.office,
            mailbox=self.org.kim.mailbox,
            parent=inbox(self.org.kim),
            name="Projects",
        )
        # the model
        self.taken = set(
            Account.objects.filter(office=self.org.office).values_list("login_id", flat=True)
        )
        self.subs: dict[str, set[str]] = {
            "kim": set(),
            "lee": set(),
            "group": set(),
            "nomail": set(),
        }
        self.messages: dict[int, str] = {}  # message id -> owner name
        self.fresh = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def owner(self, name: str) -> Account:
        return getattr(self.org, name)

    def _add_expected(self, name: str, value: str) -> bool:
        if not self.owner(name).can_have_subaccounts():
            return False
        try:
            local_part = validate_subaccount_id(value)
        except Exception:  # noqa: BLE001 - any refusal means "not added"
            return False
        if len(self.subs[name]) >= 5 or local_part in self.taken:
            return False
        return not (name == "kim" and local_part == "projects")

    @rule(name=OWNERS, value=IDS)
    def add(self, name, value):
        expected = self._add_expected(name, value)
        try:
            subaccount_add(actor=self.org.admin, owner=self.owner(name), local_part=value)
        except DomainError as error:
            assert not expected, (name, value, error.messages)
            event(f"add refused: {error.code}")
        else:
            assert expected, (name, value)
            event("add")
            self.subs[name].add(value.lower())
            self.taken.add(value.lower())

    @rule(name=USERS, how_many=st.integers(min_value=1, max_value=3))
    def add_several(self, name, how_many):
        """A burst of new IDs: reaches the limit of five, and one past it."""
        for _ in range(how_many):
            self.fresh += 1
            self.add(name, f"{name}-{self.fresh}")

    def _delete(self, name, value):
        owner = self.owner(name)
        local_part = value.lower()
        expected = local_part in self.subs[name]
        in_folder: set[int] = set()
        if expected:
            sub = SubAccount.objects.get(owner=owner, local_part=local_part)
            in_folder = set(sub.folder.messages.values_list("pk", flat=True))
        try:
            moved = subaccount_delete(actor=self.org.admin, owner=owner, local_part=value)
        except DomainError:
            assert not expected, (name, value)
            event("delete refused")
            return
        assert expected, (name, value)
        assert moved == len(in_folder)
        now_in_inbox = Message.objects.filter(folder=inbox(owner), pk__in=in_folder)
        assert set(now_in_inbox.values_list("pk", flat=True)) == in_folder
        event("delete moving mail" if moved else "delete of an empty folder")
        self.subs[name].discard(local_part)
        self.taken.discard(local_part)

    @rule(name=OWNERS, value=IDS)
    def delete_any(self, name, value):
        self._delete(name, value)

    @rule(name=USERS, data=st.data())
    def delete_existing(self, name, data):
        if self.subs[name]:
            self._delete(name, data.draw(st.sampled_from(sorted(self.subs[name]))))

    @rule(
        name=USERS,
        into_subaccount=st.booleans(),
        pick=st.integers(min_value=0, max_value=60),
        size=st.integers(min_value=0, max_value=10**7),
    )
    def deliver(self, name, into_subaccount, pick, size):
        folders = Folder.objects.filter(mailbox=self.owner(name).mailbox).order_by("pk")
        if into_subaccount and self.subs[name]:
            folders = folders.filter(role=Folder.Role.SUBACCOUNT)
        folders = list(folders)
        message = message_deliver(folder=folders[pick % len(folders)], size_bytes=size)
        self.messages[message.pk] = name

    @rule(name=USERS)
    def empty(self, name):
        mailbox_empty(account=self.owner(name), actor=self.org.admin)
        self.messages = {pk: who for pk, who in self.messages.items() if who != name}

    @invariant()
    def every_rule_holds(self):
        # no message disappears except by emptying (and none appears)
        assert set(Message.objects.values_list("pk", flat=True)) == set(self.messages)
        for name, local_parts in self.subs.items():
            stored = SubAccount.objects.filter(owner=self.owner(name))
            assert set(stored.values_list("local_part", flat=True)) == local_parts
        if any(len(local_parts) == 5 for local_parts in self.subs.values()):
            event("an owner at five")
        assert_consistent()


@pytest.mark.django_db
def test_random_sequences_keep_every_rule():
    run_state_machine_as_test(
        Office,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
