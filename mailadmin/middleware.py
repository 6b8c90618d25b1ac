from django.conf import settings
from django.utils import translation


class LanguageMiddleware:
    """Korean unless the user picked English with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language;
    the product deliberately does not (SPEC N5): the choice is remembered in
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
