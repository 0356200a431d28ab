// Dark mode follows the system setting: Bootstrap's data-bs-theme on <html>, set before the page is painted
// (this file is loaded in <head>, without defer) and again whenever the setting changes.
(function () {
  "use strict";
  var query = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    document.documentElement.setAttribute("data-bs-theme", query.matches ? "dark" : "light");
  }
  apply();
  if (query.addEventListener) {
    query.addEventListener("change", apply);
  }
})();
