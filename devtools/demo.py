"""A realistic demo office at any size, from 10 to 100,000 accounts: what
``make run`` shows a newcomer and what the benchmark measures.

Design choices:

- Realistic rather than uniform: Korean names by family-name frequency,
  departments, group and shared mail, a few accounts without mail,
  log-normal message sizes with some nearly full mailboxes, six months of
  POP3/SMTP access from several countries. The screens' filters, sorts and
  warnings all have something to show.
- Reproducible: everything is drawn from one ``random.Random(seed)``, so the
  same seed gives the same office (a demo can be rebuilt, a bench compared).
- Fast: bulk inserts in chunks, each chunk in one transaction, so memory
  stays bounded and 100,000 accounts take minutes, not hours. Each mailbox's
  content is decided before anything is written, so its counters are
  written once and equal its messages exactly.
- For the embedded mail store only (``MAIL_STORE=db``): messages and
  folders are written as its rows, which is what makes 100,000 accounts
  quick; with a real mail server there is no mail to invent, and
  :func:`require_embedded_store` says so instead of filling the console
  with mail the server does not have.
- As consistent as data people made: sub-accounts go through
  :func:`subaccounts.builders.bulk_create_subaccounts`, the bulk twin of the
  service, so the demo never keeps its own copy of their rules.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts import access_partitions, tallies
from accounts.access_history import fold_hour
from accounts.geo import country_for_ip
from accounts.mailstore import DatabaseMailStore, counted_from_messages, get_mail_store
from accounts.models import (
    AccessLog,
    Account,
    Address,
    Folder,
    Mailbox,
    Message,
    Office,
    SenderAddress,
)
from accounts.services import DEFAULT_FOLDERS
from subaccounts.builders import NewSubAccount, bulk_create_subaccounts

MB = 1024 * 1024
GB = 1024 * MB

FAMILY_NAMES = [
    ("김", "kim", 21),
    ("이", "lee", 14),
    ("박", "park", 8),
    ("최", "choi", 5),
    ("정", "jung", 5),
    ("강", "kang", 2),
    ("조", "cho", 2),
    ("윤", "yoon", 2),
    ("장", "jang", 2),
    ("임", "lim", 2),
    ("한", "han", 1),
    ("오", "oh", 1),
    ("서", "seo", 1),
    ("신", "shin", 1),
    ("권", "kwon", 1),
    ("황", "hwang", 1),
    ("안", "ahn", 1),
    ("송", "song", 1),
    ("류", "ryu", 1),
    ("전", "jeon", 1),
    ("홍", "hong", 1),
    ("고", "ko", 1),
    ("문", "moon", 1),
    ("양", "yang", 1),
    ("손", "son", 1),
    ("배", "bae", 1),
    ("백", "baek", 1),
    ("허", "heo", 1),
    ("유", "yu", 1),
    ("남", "nam", 1),
    ("심", "sim", 1),
    ("노", "noh", 1),
    ("하", "ha", 1),
    ("곽", "kwak", 1),
    ("성", "sung", 1),
    ("차", "cha", 1),
    ("주", "joo", 1),
    ("우", "woo", 1),
    ("민", "min", 1),
    ("진", "jin", 1),
]
GIVEN_NAMES = [
    ("민준", "minjun"),
    ("서준", "seojun"),
    ("도윤", "doyun"),
    ("예준", "yejun"),
    ("시우", "siwoo"),
    ("하준", "hajun"),
    ("주원", "juwon"),
    ("지호", "jiho"),
    ("지후", "jihu"),
    ("준서", "junseo"),
    ("건우", "gunwoo"),
    ("현우", "hyunwoo"),
    ("우진", "woojin"),
    ("선우", "sunwoo"),
    ("연우", "yeonwoo"),
    ("서연", "seoyeon"),
    ("서윤", "seoyun"),
    ("지우", "jiwoo"),
    ("서현", "seohyun"),
    ("민서", "minseo"),
    ("하은", "haeun"),
    ("하윤", "hayun"),
    ("윤서", "yunseo"),
    ("지유", "jiyu"),
    ("지민", "jimin"),
    ("채원", "chaewon"),
    ("수아", "sua"),
    ("지아", "jia"),
    ("다은", "daeun"),
    ("은서", "eunseo"),
    ("영수", "youngsu"),
    ("영희", "younghee"),
    ("정훈", "junghoon"),
    ("성민", "sungmin"),
    ("상철", "sangchul"),
    ("미경", "mikyung"),
    ("은정", "eunjung"),
    ("혜진", "hyejin"),
    ("동현", "donghyun"),
    ("재훈", "jaehoon"),
    ("수빈", "subin"),
    ("유진", "yujin"),
    ("민지", "minji"),
    ("예린", "yerin"),
    ("태희", "taehee"),
    ("경호", "kyungho"),
    ("승현", "seunghyun"),
    ("보람", "boram"),
    ("한결", "hangyeol"),
    ("소영", "soyoung"),
]
DEPARTMENTS = [
    ("경영지원팀", "admin"),
    ("인사팀", "hr"),
    ("재무팀", "finance"),
    ("영업1팀", "sales1"),
    ("영업2팀", "sales2"),
    ("마케팅팀", "marketing"),
    ("개발1팀", "dev1"),
    ("개발2팀", "dev2"),
    ("디자인팀", "design"),
    ("고객지원팀", "support"),
    ("품질관리팀", "qa"),
    ("구매팀", "purchase"),
    ("법무팀", "legal"),
    ("기술연구소", "lab"),
    ("해외사업팀", "global"),
]
SHARED_MAILBOXES = [
    ("대표 문의", "contact"),
    ("고객센터", "help"),
    ("채용 문의", "recruit"),
    ("제휴 문의", "partner"),
    ("세금계산서", "tax"),
    ("공지 발송", "notice"),
    ("보도자료", "press"),
    ("주문 접수", "orders"),
]
SUBACCOUNT_SUFFIXES = [
    "sales",
    "cs",
    "biz",
    "help",
    "order",
    "info",
    "team",
    "project",
    "contact",
    "event",
    "support",
    "market",
    "dev",
    "work",
    "office",
]
SUBJECTS = [
    "주간 업무 보고",
    "회의록 공유드립니다",
    "견적서 송부",
    "[공지] 사내 보안 점검 안내",
    "계약서 검토 요청",
    "Re: 일정 확인 부탁드립니다",
    "세금계산서 발행 안내",
    "출장 경비 정산",
    "Invoice #{n}",
    "Fwd: 제안서",
    "월간 실적 자료",
    "신규 프로젝트 킥오프",
    "휴가 신청",
    "Meeting notes",
    "배송 일정 안내",
]
CUSTOM_FOLDERS = ["거래처", "프로젝트", "보관함", "뉴스레터", "결재"]
QUOTAS = [(500 * MB, 15), (1 * GB, 45), (2 * GB, 25), (5 * GB, 10), (10 * GB, 5)]

# IP pools per country: real public prefixes, so the offline lookup agrees.
IP_POOLS = [
    ("KR", 70, ["211.234.{a}.{b}", "1.11.{a}.{b}", "175.223.{a}.{b}", "121.134.{a}.{b}"]),
    ("US", 8, ["8.8.{a}.{b}", "64.233.{a}.{b}"]),
    ("JP", 6, ["133.242.{a}.{b}", "126.{a}.{b}.10"]),
    ("VN", 4, ["113.160.{a}.{b}"]),
    ("CN", 4, ["36.110.{a}.{b}"]),
    ("DE", 3, ["85.214.{a}.{b}"]),
    ("KR6", 5, ["2001:e60:{a:x}:{b:x}::1", "2406:5900:{a:x}::{b:x}"]),
]


@dataclass
class SeedResult:
    office: Office
    admin_password: str
    accounts: int = 0
    mailboxes: int = 0
    subaccounts: int = 0
    messages: int = 0
    access_rows: int = 0
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)


class Generator:
    def __init__(self, seed: int, now: dt.datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.family_weights = [w for _, _, w in FAMILY_NAMES]
        self.used_ids: set[str] = set()
        self.password_hashes: list[str] = []

    def pick_family(self):
        return self.rng.choices(FAMILY_NAMES, weights=self.family_weights)[0]

    def unique_id(self, base: str) -> str:
        candidate = base
        n = 1
        while candidate in self.used_ids:
            n += 1
            candidate = f"{base}{n}"
        self.used_ids.add(candidate)
        return candidate

    def person(self):
        family, family_rom, _ = self.pick_family()
        given, given_rom = self.rng.choice(GIVEN_NAMES)
        return f"{family}{given}", self.unique_id(f"{given_rom}.{family_rom}")

    def ip(self) -> str:
        country, _, patterns = self.rng.choices(IP_POOLS, weights=[w for _, w, _ in IP_POOLS])[0]
        pattern = self.rng.choice(patterns)
        return pattern.format(a=self.rng.randint(1, 254), b=self.rng.randint(1, 254))

    def quota(self) -> int:
        return self.rng.choices([q for q, _ in QUOTAS], weights=[w for _, w in QUOTAS])[0]

    def sizes(self, count: int) -> list[int]:
        # Mail sizes are log-normal: most a few KB to a few hundred KB, a
        # long tail of attachments in the megabytes.
        return [
            max(600, min(int(self.rng.lognormvariate(10.8, 1.6)), 40 * MB)) for _ in range(count)
        ]

    def moment(self, days_back: float) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.rng.uniform(0, days_back * 86400))

    def mail_password_hash(self) -> str:
        # Hashing is deliberately slow (Argon2id); a handful of distinct demo
        # hashes, reused, keeps a 100,000-account office fast to build.
        if len(self.password_hashes) < 4:
            self.password_hashes.append(make_password(secrets.token_urlsafe(12)))
        return self.rng.choice(self.password_hashes)


def _account_specs(gen: Generator, total: int, admin_name: str):
    """Yield dicts describing accounts: the admins first, then the office."""
    rng = gen.rng
    gen.used_ids.update({"admin", "itadmin"})
    yield {
        "login_id": "admin",
        "name": admin_name,
        "kind": Account.Kind.USER,
        "admin": True,
        "mail": True,
        "dept": "경영지원팀",
    }
    family, _, _ = gen.pick_family()
    yield {
        "login_id": "itadmin",
        "name": f"{family}{rng.choice(GIVEN_NAMES)[0]}",
        "kind": Account.Kind.USER,
        "admin": True,
        "mail": True,
        "dept": "경영지원팀",
    }
    groups = max(1, round(total * 0.02))
    shared = max(1, round(total * 0.01))
    users = max(0, total - 2 - groups - shared)
    for i in range(users):
        name, login_id = gen.person()
        dept = rng.choice(DEPARTMENTS)[0]
        yield {
            "login_id": login_id,
            "name": name,
            "kind": Account.Kind.USER,
            "admin": False,
            # ~3% of users have no mail licence: they exist but are not listed.
            "mail": rng.random() >= 0.03 or i == 0,
            "dept": dept,
        }
    for i in range(groups):
        dept, dept_id = DEPARTMENTS[i % len(DEPARTMENTS)]
        round_no = i // len(DEPARTMENTS)
        yield {
            "login_id": gen.unique_id(f"team-{dept_id}" + (f"-{round_no}" if round_no else "")),
            "name": f"{dept} 그룹메일" + (f" {round_no}" if round_no else ""),
            "kind": Account.Kind.GROUP,
            "admin": False,
            "mail": True,
            "dept": dept,
        }
    for i in range(shared):
        label, shared_id = SHARED_MAILBOXES[i % len(SHARED_MAILBOXES)]
        round_no = i // len(SHARED_MAILBOXES)
        yield {
            "login_id": gen.unique_id(shared_id + (f"-{round_no}" if round_no else "")),
            "name": label + (f" {round_no}" if round_no else ""),
            "kind": Account.Kind.SHARED,
            "admin": False,
            "mail": True,
            "dept": "",
        }


def seed_office(
    *,
    domain: str,
    accounts: int,
    admin_password: str | None = None,
    seed: int = 1,
    office_name: str | None = None,
    chunk_size: int = 2000,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> SeedResult:
    require_embedded_store()
    started = timezone.now()
    now = now or started
    gen = Generator(seed, now)
    admin_password = admin_password or secrets.token_urlsafe(12)
    office = Office.objects.create(
        domain=domain.lower(),
        name=office_name or f"{domain.split('.')[0].capitalize()} 주식회사",
        default_quota_bytes=1 * GB,
        time_zone="Asia/Seoul",
    )
    result = SeedResult(office=office, admin_password=admin_password)
    admin_hash = make_password(admin_password)
    chunk: list[dict] = []
    for spec in _account_specs(gen, accounts, "관리자"):
        chunk.append(spec)
        if len(chunk) >= chunk_size:
            _write_chunk(gen, office, chunk, admin_hash, result)
            chunk = []
            if progress:
                progress(f"{result.accounts:,} accounts")
    if chunk:
        _write_chunk(gen, office, chunk, admin_hash, result)
    # As an import does: one kept count per kind, not a row per mailbox.
    tallies.fold(office)
    # Half a year of daily usage snapshots, for the usage report.
    from devtools.usage_history import build_history

    build_history(office, now=now, progress=progress)
    result.seconds = (timezone.now() - started).total_seconds()
    return result


@transaction.atomic
def _write_chunk(gen: Generator, office: Office, specs: list[dict], admin_hash: str, result):
    rng = gen.rng
    domain = office.domain
    account_objs = []
    for spec in specs:
        has_subs = (
            spec["mail"]
            and spec["kind"] == Account.Kind.USER
            and (spec["login_id"] == "admin" or rng.random() < 0.30)
        )
        spec["sub_count"] = (
            rng.choices([1, 2, 3, 4, 5], weights=[45, 25, 15, 10, 5])[0] if has_subs else 0
        )
        if spec["login_id"] == "admin":
            spec["sub_count"] = 2  # leaves room to try [추가하기] in the demo
        suspended = not spec["admin"] and rng.random() < 0.02
        account_objs.append(
            Account(
                office=office,
                login_id=spec["login_id"],
                email=f"{spec['login_id']}@{domain}",
                name=spec["name"],
                department=spec["dept"],
                kind=spec["kind"],
                status=Account.Status.SUSPENDED if suspended else Account.Status.ACTIVE,
                role=Account.Role.SUPER_ADMIN if spec["admin"] else Account.Role.USER,
                password=admin_hash if spec["login_id"] == "admin" else make_password(None),
                created_at=gen.moment(5 * 365),
            )
        )
    Account.objects.bulk_create(account_objs)
    Address.objects.bulk_create(
        Address(office=office, local_part=a.login_id, account=a) for a in account_objs
    )
    result.accounts += len(account_objs)

    mail_pairs = [
        (spec, acc) for spec, acc in zip(specs, account_objs, strict=True) if spec["mail"]
    ]
    # Decide every mailbox's content first, so the counters are written once
    # and equal the messages exactly.
    plans = []
    for spec, account in mail_pairs:
        quota = gen.quota()
        if spec["kind"] != Account.Kind.USER:
            quota = 5 * GB
        roll = rng.random()
        message_total = 0 if roll < 0.04 else max(1, int(rng.lognormvariate(2.6, 0.8)))
        sizes = gen.sizes(message_total)
        if roll > 0.97 and message_total:
            # Nearly full mailboxes: scale the mail up to 90-99% of the quota.
            target = int(quota * rng.uniform(0.905, 0.99))
            scale = target / sum(sizes)
            sizes = [max(1, int(s * scale)) for s in sizes]
            sizes[-1] += target - sum(sizes)
        if spec["login_id"] == "admin":
            quota = None  # the admin has the unlimited plan
        access = []
        uses_clients = rng.random() < 0.6
        if uses_clients:
            ips = [gen.ip() for _ in range(rng.randint(1, 3))]
            for _ in range(max(1, int(rng.lognormvariate(3.0, 0.9)))):
                protocol = rng.choice(("pop3", "pop3", "smtp"))
                access.append(
                    (
                        protocol,
                        gen.moment(183).replace(microsecond=0),
                        rng.choice(ips),
                        rng.random() >= 0.05,
                    )
                )
        last = max((a for a in access if a[3]), key=lambda a: a[1], default=None)
        plans.append(
            {
                "spec": spec,
                "account": account,
                "quota": quota,
                "sizes": sizes,
                "access": access,
                "last": last,
            }
        )

    mailboxes = []
    for plan in plans:
        last = plan["last"]
        mailbox = Mailbox(
            account=plan["account"],
            office=office,
            quota_bytes=plan["quota"],
            used_bytes=sum(plan["sizes"]),
            message_count=len(plan["sizes"]),
            pop3_enabled=rng.random() < 0.7,
            smtp_enabled=rng.random() < 0.8,
            mail_password=gen.mail_password_hash() if rng.random() < 0.1 else "",
            last_access_at=last[1] if last else None,
            last_access_protocol=last[0] if last else "",
            last_access_ip=last[2] if last else None,
            last_access_country=country_for_ip(last[2]) if last else "",
            created_at=plan["account"].created_at,
        )
        plan["mailbox"] = mailbox
        mailboxes.append(mailbox)
    Mailbox.objects.bulk_create(mailboxes)
    result.mailboxes += len(mailboxes)

    folders = []
    for plan in plans:
        plan["folders"] = {}
        for role, name in DEFAULT_FOLDERS:
            folder = Folder(office=office, mailbox=plan["mailbox"], name=name, role=role)
            plan["folders"][role] = folder
            folders.append(folder)
        if rng.random() < 0.25:
            name = rng.choice(CUSTOM_FOLDERS)
            folder = Folder(office=office, mailbox=plan["mailbox"], name=name)
            plan["folders"]["custom"] = folder
            folders.append(folder)
    Folder.objects.bulk_create(folders)

    senders = [
        SenderAddress(
            office=office,
            account=plan["account"],
            address=plan["account"].email,
            display_name=plan["account"].name,
        )
        for plan in plans
    ]
    SenderAddress.objects.bulk_create(senders)
    # Sub-accounts through the one builder that keeps the service's
    # invariants (folder in the inbox, address, sender entry, counter).
    wanted = []
    for plan in plans:
        account = plan["account"]
        suffixes = rng.sample(SUBACCOUNT_SUFFIXES, plan["spec"]["sub_count"])
        for suffix in suffixes:
            wanted.append(
                NewSubAccount(
                    owner=account,
                    local_part=f"{account.login_id.replace('.', '-')}-{suffix}",
                    inbox=plan["folders"][Folder.Role.INBOX],
                    created_at=gen.moment(365),
                )
            )
    built = bulk_create_subaccounts(wanted)
    sub_folders: dict[int, list[Folder]] = {}
    for subaccount in built:
        sub_folders.setdefault(subaccount.owner_id, []).append(subaccount.folder)
    for plan in plans:
        plan["sub_folders"] = sub_folders.get(plan["account"].pk, [])
    result.subaccounts += len(built)

    messages = []
    for plan in plans:
        targets = [plan["folders"][Folder.Role.INBOX]] * 6 + [plan["folders"][Folder.Role.SENT]] * 3
        targets += [plan["folders"][Folder.Role.SPAM], plan["folders"][Folder.Role.TRASH]]
        if "custom" in plan["folders"]:
            targets += [plan["folders"]["custom"]] * 2
        targets += plan["sub_folders"] * 2
        account = plan["account"]
        for size in plan["sizes"]:
            folder = rng.choice(targets)
            subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 9999))
            messages.append(
                Message(
                    office=office,
                    mailbox=plan["mailbox"],
                    folder=folder,
                    size_bytes=size,
                    subject=subject,
                    sender=account.email
                    if folder.role == Folder.Role.SENT
                    else _external_sender(rng),
                    received_at=gen.moment(3 * 365),
                )
            )
    Message.objects.bulk_create(messages, batch_size=5000)
    # The folders' counters, as the services keep them: one set-based UPDATE
    # of this batch's folders.
    Folder.objects.filter(mailbox__in=[plan["mailbox"] for plan in plans]).update(
        **counted_from_messages()
    )
    result.messages += len(messages)

    # Folded as the importer folds them: one row per account, UTC hour,
    # protocol, IP and result.
    folds: dict[tuple, list] = {}
    country_cache: dict[str, str] = {}
    for plan in plans:
        account = plan["account"]
        for protocol, at, ip, succeeded in plan["access"]:
            key = (account.pk, fold_hour(at), protocol, ip, succeeded)
            fold = folds.get(key)
            if fold is None:
                folds[key] = [at, at, 1]
            else:
                fold[0], fold[1], fold[2] = min(fold[0], at), max(fold[1], at), fold[2] + 1
    access_rows = []
    for (account_id, hour, protocol, ip, succeeded), (first, last, count) in folds.items():
        if ip not in country_cache:
            country_cache[ip] = country_for_ip(ip)
        access_rows.append(
            AccessLog(
                office=office,
                account_id=account_id,
                protocol=protocol,
                hour=hour,
                ip=ip,
                country=country_cache[ip],
                succeeded=succeeded,
                first_at=first,
                last_at=last,
                count=count,
            )
        )
    access_partitions.ensure_for(row.hour for row in access_rows)
    AccessLog.objects.bulk_create(access_rows, batch_size=5000)
    result.access_rows += sum(row.count for row in access_rows)


def _external_sender(rng: random.Random) -> str:
    return rng.choice(
        [
            "noreply@partner.co.kr",
            "sales@supplier.com",
            "news@newsletter.kr",
            "ceo@client.co.kr",
            "billing@cloud.example.net",
            "hr@recruit.co.kr",
            "support@vendor.io",
        ]
    )


def require_embedded_store() -> None:
    """Refuse to build demo mail unless the mail is the database's own rows."""
    if not isinstance(get_mail_store(), DatabaseMailStore):
        raise ImproperlyConfigured(
            "The demo and the bench write mail into the embedded mail store; "
            "set MAIL_STORE=db to use them."
        )


def seconds_str(seconds: float) -> str:
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"
