from django.http import Http404

from accounts.scoping import office_admin_required


@office_admin_required
def account_detail(request, login_id):  # placeholder: issue 4 builds it
    raise Http404
