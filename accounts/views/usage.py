"""메일 사용 현황: the mail usage list."""

from django.http import Http404
from django.shortcuts import render

from accounts.models import Account
from accounts.scoping import office_admin_required


@office_admin_required
def account_list(request):
    accounts = (
        Account.objects.filter(office=request.office, mailbox__isnull=False)
        .select_related("mailbox")
        .order_by("name", "login_id", "pk")[:20]
    )
    return render(request, "accounts/account_list.html", {"accounts": accounts})


@office_admin_required
def account_export(request):  # placeholder: issue 3 builds it
    raise Http404


@office_admin_required
def account_empty(request, login_id):  # placeholder: issue 3 builds it
    raise Http404
