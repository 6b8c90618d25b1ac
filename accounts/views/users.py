from django.http import Http404

from accounts.scoping import office_admin_required


@office_admin_required
def user_list(request):  # placeholder: issue 4 builds it
    raise Http404


@office_admin_required
def user_detail(request, login_id):  # placeholder: issue 4 builds it
    raise Http404
