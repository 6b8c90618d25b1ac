"""One URL, two answers: a whole page, or the piece of it htmx swaps in.

Every screen that htmx updates in place (the usage table, the detail pane,
the 비우기 and 부계정 설정 dialogs, the export progress) is one template
with a named partial (django-template-partials): a normal request gets the
page, an htmx request gets ``"page.html#partial"``. The same URL then works
without JavaScript, can be bookmarked and opened in a new tab.

Two things make that safe, and both are easy to forget in a single view,
which is why every such view goes through :func:`render_htmx`:

- **History restore.** When the back button lands on a page htmx pushed and
  its history cache misses, htmx re-requests the URL with ``HX-Request`` and
  ``HX-History-Restore-Request`` and puts the answer in place of the *whole*
  body. A fragment there would leave a page without its header, menu or
  styles, so such a request always gets the full page.
- **``Vary: HX-Request``.** The browser's HTTP cache (and any proxy) keys a
  response by URL; without the header a fragment fetched by htmx could be
  replayed for a normal navigation to the same URL, or the other way round.
  Views that also choose by the swap target add ``HX-Target``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_partial(request: HttpRequest, *, target: str | None = None) -> bool:
    """Whether to answer only the partial: an htmx request that is not
    restoring history (and, with ``target``, that swaps into that element)."""
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return False
    return target is None or htmx.target == target


def vary_on_htmx(response: HttpResponse, *, target: bool = False) -> HttpResponse:
    """Mark ``response`` as depending on the htmx request headers."""
    patch_vary_headers(response, ("HX-Request", "HX-Target") if target else ("HX-Request",))
    return response


def render_htmx(
    request: HttpRequest,
    template: str,
    partial: str,
    context: dict | None = None,
    *,
    status: int = 200,
    target: str | None = None,
) -> HttpResponse:
    """``template#partial`` for an htmx request (one that swaps into
    ``target``, when given), else the whole ``template``; with ``Vary``."""
    if wants_partial(request, target=target):
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    return vary_on_htmx(response, target=target is not None)
