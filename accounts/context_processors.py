from accounts.permissions import can_manage, can_write


def office(request):
    """The office of a management page (set by ``office_admin_required``),
    and whether the signed-in admin may change anything there: write
    controls are rendered only when ``can_write`` is true."""
    office = getattr(request, "office", None)
    user = getattr(request, "user", None)
    writable = bool(
        office is not None and user is not None and user.is_authenticated and can_write(user)
    )
    manages = bool(user is not None and user.is_authenticated and can_manage(user))
    return {"office": office, "can_write": writable, "can_manage_console": manages}
