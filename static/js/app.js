// The few lines of behaviour htmx does not cover. No inline scripts (CSP).
(function () {
  "use strict";

  // Selects marked data-autosubmit submit their form on change.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-autosubmit]") && target.form) {
      if (target.form.requestSubmit) target.form.requestSubmit();
      else target.form.submit();
    }
  });

  // The shared modal: content swapped into #modal-body opens it. The native
  // <dialog> shown with showModal() makes the page behind it inert (focus is
  // trapped) and closes on Escape; focus then returns to what opened it.
  var opener = null;
  var openerKey = null;  // to find the opener again if a refresh replaced it

  function modal() { return document.getElementById("modal"); }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "modal-body" && !modal().open) {
      opener = event.detail.elt;
      openerKey = { id: opener.id, get: opener.getAttribute("hx-get") };
    }
  });

  // A success in the dialog refreshes the list row and the pane behind it
  // (e.g. subaccountsChanged), replacing the button that opened it: focus
  // its replacement, found by id or by the same hx-get.
  function reopened() {
    if (!openerKey) return null;
    if (openerKey.id && document.getElementById(openerKey.id)) {
      return document.getElementById(openerKey.id);
    }
    if (!openerKey.get) return null;
    return Array.prototype.find.call(document.querySelectorAll("[hx-get]"), function (element) {
      return element.getAttribute("hx-get") === openerKey.get;
    }) || null;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail || !event.detail.target || event.detail.target.id !== "modal-body") return;
    var dialog = modal();
    if (!dialog.open) dialog.showModal();
    var focus = dialog.querySelector("[autofocus], [aria-invalid='true'], input:not([type=hidden]):not([disabled]), button:not([disabled]), a[href]");
    if (focus) focus.focus();
  });

  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-modal-close]");
    if (close) {
      event.preventDefault();
      modal().close();
    }
  });

  document.addEventListener("close", function (event) {
    if (event.target.id !== "modal") return;
    document.getElementById("modal-body").innerHTML = "";
    var back = opener && document.contains(opener) ? opener : reopened();
    if (back) back.focus();
    opener = null;
    openerKey = null;
  }, true);

  // A server response may ask to close the modal (HX-Trigger: closeModal).
  document.addEventListener("closeModal", function () {
    var dialog = modal();
    if (dialog && dialog.open) dialog.close();
  });
})();

// The menu button of narrow screens: it opens and closes the management
// menu (the CSS shows the menu while aria-expanded is "true"); Escape closes
// it and gives the focus back to the button.
(function () {
  "use strict";

  function toggle() { return document.getElementById("nav-toggle"); }

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#nav-toggle");
    if (!button) return;
    setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var button = toggle();
    if (!button || button.getAttribute("aria-expanded") !== "true") return;
    var modal = document.getElementById("modal");
    if (modal && modal.open) return;
    setOpen(button, false);
    button.focus();
  });
})();
