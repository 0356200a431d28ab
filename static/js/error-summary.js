// After a refused submit, keyboard and screen-reader users start at the error summary; its links move focus
// to the field itself (a plain in-page link would only scroll there).
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) {
    return;
  }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
      var label = document.querySelector("label[for='" + field.id + "']") || field;
      label.scrollIntoView();
    }
  });
})();
