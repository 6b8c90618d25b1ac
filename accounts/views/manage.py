"""The 하이웍스 관리 dashboard."""

from django.db.models import Count, Q, Sum
from django.shortcuts import render

from accounts.models import Account, Mailbox
from accounts.permissions import office_admin_required


@office_admin_required
def dashboard(request):
    office = request.office
    accounts = Account.objects.filter(office=office, deleted_at__isnull=True).aggregate(
        total=Count("id"),
        suspended=Count("id", filter=Q(status=Account.Status.SUSPENDED)),
    )
    mail = Mailbox.objects.filter(office=office, account__deleted_at__isnull=True).aggregate(
        users=Count("pk"), used=Sum("used_bytes"), messages=Sum("message_count")
    )
    return render(
        request,
        "manage/dashboard.html",
        {
            "accounts_total": accounts["total"],
            "accounts_suspended": accounts["suspended"],
            "mail_users": mail["users"],
            "mail_used": mail["used"] or 0,
            "mail_messages": mail["messages"] or 0,
        },
    )


@office_admin_required
def mail_home(request):
    """[메일 관리]: the mail section's own menu, as in the original."""
    return render(request, "manage/mail_home.html", {"nav": "mail"})
