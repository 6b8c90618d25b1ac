from django.http import Http404

from accounts.scoping import office_admin_required


@office_admin_required
def subaccount_dialog(request, login_id):  # placeholder: issue 5 builds it
    raise Http404


@office_admin_required
def subaccount_delete(request, login_id, local_part):  # placeholder: issue 5 builds it
    raise Http404
