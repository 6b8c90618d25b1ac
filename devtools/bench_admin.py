"""The yardstick of the benchmark: the Django admin changelist a Django
developer would write for the same screen, on the same data.

Imported only by the bench, after it has added ``django.contrib.admin`` to
INSTALLED_APPS and pointed ROOT_URLCONF at :mod:`devtools.bench_urls` (see
:func:`devtools.bench.admin_installed`); the product never loads it.
"""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from accounts.models import Account, AuditEvent


class BenchAdminSite(admin.AdminSite):
    site_header = "mailadmin bench"

    def has_permission(self, request):
        # The product's Account has no is_staff; its super admins stand in.
        return request.user.is_authenticated and request.user.is_office_admin


class HasSubaccountsFilter(admin.SimpleListFilter):
    title = "sub-accounts"
    parameter_name = "subaccounts"

    def lookups(self, request, model_admin):
        return [("used", "in use"), ("unused", "not in use")]

    def queryset(self, request, queryset):
        if self.value() == "used":
            return queryset.filter(subaccount_count__gt=0)
        if self.value() == "unused":
            return queryset.filter(subaccount_count=0)
        return queryset


class MailAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "login_id", "addresses", "usage", "pop3", "smtp", "status"]
    list_filter = ["status", HasSubaccountsFilter]
    search_fields = ["name", "login_id"]
    list_select_related = ["mailbox"]
    list_per_page = 50
    ordering = ["name", "login_id", "id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(office_id=request.user.office_id, mailbox__isnull=False)
            .prefetch_related("subaccounts")
        )

    @admin.display(description="addresses")
    def addresses(self, obj):
        domain = obj.email.rpartition("@")[2]
        return ", ".join([obj.email] + [f"{s.local_part}@{domain}" for s in obj.subaccounts.all()])

    @admin.display(description="usage", ordering="mailbox__used_bytes")
    def usage(self, obj):
        return filesizeformat(obj.mailbox.used_bytes)

    @admin.display(description="POP3", boolean=True, ordering="mailbox__pop3_enabled")
    def pop3(self, obj):
        return obj.mailbox.pop3_enabled

    @admin.display(description="SMTP", boolean=True, ordering="mailbox__smtp_enabled")
    def smtp(self, obj):
        return obj.mailbox.smtp_enabled

    def has_view_permission(self, request, obj=None):
        return request.user.is_office_admin

    def has_change_permission(self, request, obj=None):
        return request.user.is_office_admin

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_module_permission(self, request):
        return request.user.is_office_admin


class UserAdmin(admin.ModelAdmin):
    """사용자 관리 as a changelist: every listed account of the office, by
    name, searched by name and ID."""

    list_display = ["name", "login_id", "kind", "status", "role"]
    search_fields = ["name", "login_id"]
    list_select_related = ["mailbox"]
    list_per_page = 50
    ordering = ["name", "login_id", "id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(office_id=request.user.office_id, deleted_at__isnull=True)
        )

    has_view_permission = MailAccountAdmin.has_view_permission
    has_change_permission = MailAccountAdmin.has_change_permission
    has_add_permission = MailAccountAdmin.has_add_permission
    has_delete_permission = MailAccountAdmin.has_delete_permission
    has_module_permission = MailAccountAdmin.has_module_permission


class AuditEventAdmin(admin.ModelAdmin):
    """The audit log as a changelist: newest first, filtered by action and
    day, searched in the actor's and target's labels."""

    list_display = ["at", "action", "actor", "target", "ip"]
    list_filter = ["action", "at"]
    search_fields = ["actor_label", "target_label"]
    list_select_related = ["actor", "target"]
    list_per_page = 50
    ordering = ["-at", "-id"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(office_id=request.user.office_id)

    has_view_permission = MailAccountAdmin.has_view_permission
    has_change_permission = MailAccountAdmin.has_change_permission
    has_add_permission = MailAccountAdmin.has_add_permission
    has_delete_permission = MailAccountAdmin.has_delete_permission
    has_module_permission = MailAccountAdmin.has_module_permission


site = BenchAdminSite(name="bench_admin")
site.register(Account, MailAccountAdmin)
site.register(AuditEvent, AuditEventAdmin)

# One model, one admin per site: 사용자 관리 is a second changelist of
# Account, on a site of its own.
users_site = BenchAdminSite(name="bench_users_admin")
users_site.register(Account, UserAdmin)

# The column the changelist sorts on for "usage" (``o=`` counts from 1).
USAGE_COLUMN = MailAccountAdmin.list_display.index("usage") + 1
