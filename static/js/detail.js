// The detail pane: closing it inside the usage list without a
// round trip. Without JavaScript the close link simply leads to the list.
(function () {
  "use strict";

  // On a phone the pane covers the whole screen (usage.css): the focus
  // moves into it and what lies behind it is inert until it closes.
  var phone = window.matchMedia("(max-width: 760px)");

  function behind() {
    return document.querySelectorAll(".topbar, .sidenav, .usage__main");
  }

  function setBehindInert(inert) {
    behind().forEach(function (element) {
      if (inert) element.setAttribute("inert", "");
      else element.removeAttribute("inert");
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "detail-pane" || !phone.matches) return;
    var pane = target.querySelector(".pane");
    if (!pane) return;
    setBehindInert(true);
    pane.focus();
  });

  function closePane(pane) {
    var aside = pane.closest("#detail-pane");
    if (!aside) return false;
    var login = pane.getAttribute("data-login-id");
    aside.innerHTML = "";
    setBehindInert(false);
    // Give the focus back to the row that opened the pane.
    var suffix = "/accounts/" + login + "/";
    var opener = Array.prototype.find.call(document.querySelectorAll("a[hx-get]"), function (link) {
      var path = link.getAttribute("hx-get").split("?")[0];
      return path.slice(-suffix.length) === suffix;
    });
    if (opener) opener.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-pane-close]");
    if (!link) return;
    var pane = link.closest(".pane");
    if (pane && closePane(pane)) event.preventDefault();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    var modal = document.getElementById("modal");
    if (modal && modal.open) return;
    var pane = document.activeElement && document.activeElement.closest && document.activeElement.closest("#detail-pane .pane");
    if (pane && closePane(pane)) event.preventDefault();
  });
})();
