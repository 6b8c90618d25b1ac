import time
from functools import partial

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth import middleware as auth_middleware
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from accounts.sessions import signed_in_with


class LanguageMiddleware:
    """Korean unless the user picked English with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language;
    the product deliberately does not: the choice is remembered in
    a cookie set by the switch, and nothing else changes the language.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


class AuthenticationMiddleware(auth_middleware.AuthenticationMiddleware):
    """Django's, except that while Django's own ``get_user`` resolves the
    user, the account that came with the session's row is on offer to
    ``AccountBackend`` (``accounts/sessions.py``), so that it is not
    queried a second time. Django's checks (the backend named in the
    session, the password hash) run as they always do."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _get_user(request))
        request.auser = partial(_auser, request)


def _get_user(request):
    # As django.contrib.auth.middleware.get_user, with the session on offer.
    if not hasattr(request, "_cached_user"):
        with signed_in_with(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user


async def _auser(request):
    if not hasattr(request, "_acached_user"):
        with signed_in_with(request.session):
            request._acached_user = await auth.aget_user(request)
    return request._acached_user


class NoStoreMiddleware:
    """``Cache-Control: private, no-store`` on every response the app itself
    makes (static files are answered by WhiteNoise before this runs).

    Signed-in pages show rosters, mail sizes and the audit log, and the
    downloads are those rosters: neither a shared proxy nor the browser's
    disk cache may keep a copy. The signed-out pages (the domain prompt, the
    sign-in steps) are cheap and carry a CSRF token, so one rule for
    everything is simpler than deciding per page and loses nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # patch_cache_control drops "public" when "private" is set.
        patch_cache_control(response, private=True, no_store=True)
        return response


class SessionIdleTimeoutMiddleware:
    """Signs a session out after ``SESSION_IDLE_SECONDS`` without a request.

    The last-seen time lives in the session itself and is re-saved only when
    it is older than ``SESSION_IDLE_RESOLUTION`` seconds, so an active admin
    costs one session write per interval, not one per request. The session
    row and cookie expire ``SESSION_COOKIE_AGE`` after their last save, which
    backs this up if the middleware is ever bypassed.
    """

    KEY = "_last_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        idle = int(settings.SESSION_IDLE_SECONDS)
        if SESSION_KEY in session:
            now = int(time.time())
            last_seen = session.get(self.KEY)
            if isinstance(last_seen, int) and now - last_seen > idle:
                auth.logout(request)
                messages.info(
                    request,
                    _("You were signed out after %(minutes)d minutes without activity.")
                    % {"minutes": idle // 60},
                )
            elif not isinstance(last_seen, int) or (
                now - last_seen >= int(settings.SESSION_IDLE_RESOLUTION)
            ):
                session[self.KEY] = now
        return self.get_response(request)


def start_idle_clock(sender, request, user, **kwargs) -> None:
    """user_logged_in: the idle clock starts with the session, in the same
    save as the sign-in itself."""
    if request is not None and hasattr(request, "session"):
        request.session[SessionIdleTimeoutMiddleware.KEY] = int(time.time())
