from django.http import Http404

from accounts.scoping import office_admin_required


@office_admin_required
def audit_list(request):  # placeholder: issue 4 builds it
    raise Http404


@office_admin_required
def audit_export(request):  # placeholder: issue 4 builds it
    raise Http404
