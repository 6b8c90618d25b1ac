// 메일 사용 현황: small enhancements on top of htmx. The page works without them.
(function () {
  "use strict";

  // The filter form sends empty fields too; leave them out of the pushed URL
  // so it stays short and shareable (?status=active, not ?q=&subaccounts=…).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "usage-filters") return;
    var params = event.detail.parameters;
    var names = [];
    if (params instanceof FormData) {
      params.forEach(function (value, name) { names.push([name, value]); });
      names.forEach(function (pair) { if (pair[1] === "") params.delete(pair[0]); });
    } else {
      Object.keys(params).forEach(function (name) {
        if (params[name] === "") delete params[name];
      });
    }
  });

  // Mark the row whose details are open in the pane.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".js-detail-link");
    if (!link) return;
    var selected = document.querySelectorAll(".usage-table tr.is-selected");
    selected.forEach(function (row) { row.classList.remove("is-selected"); });
    var row = link.closest("tr");
    if (row) row.classList.add("is-selected");
  });
})();

// Bulk bar: "check all on this page" (shown only where this script runs;
// without it every row is checked by hand).
(function () {
  "use strict";

  function pageBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll(".js-bulk-check"));
  }

  function sync() {
    var all = document.getElementById("bulk-check-page");
    if (!all) return;
    all.hidden = false;
    var boxes = pageBoxes();
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    all.checked = boxes.length > 0 && checked === boxes.length;
    all.indeterminate = checked > 0 && checked < boxes.length;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "bulk-check-page") {
      pageBoxes().forEach(function (box) { box.checked = target.checked; });
    }
    if (target.id === "bulk-check-page" || target.classList.contains("js-bulk-check")) sync();
  });
  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("htmx:afterSettle", sync);
})();
