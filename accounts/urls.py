from django.urls import include, path

from accounts.views import auth, manage, security, users

urlpatterns = [
    path("", auth.office_home, name="office_home"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("manage/", manage.dashboard, name="manage_dashboard"),
    path("manage/mail/", manage.mail_home, name="manage_mail"),
    path("manage/mail/accounts/", include("accounts.urls_mail")),
    path("manage/mail/report/", include("reports.urls")),
    path("manage/users/", include("accounts.urls_users")),
    path("manage/audit/", include("accounts.urls_audit")),
    path("manage/security/", security.two_factor_page, name="two_factor"),
    path("manage/settings/", users.office_settings, name="office_settings"),
    path("password/", auth.password_change, name="password_change"),
]
