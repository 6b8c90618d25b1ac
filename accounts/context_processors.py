def office(request):
    """The office of a management page (set by ``office_admin_required``)."""
    return {"office": getattr(request, "office", None)}
