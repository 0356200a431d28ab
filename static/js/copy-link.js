// Copy buttons: <button data-copy-target="input-id" data-copy-status="status-id">. No inline script (CSP).
(function () {
  "use strict";
  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (status) { status.textContent = text; }
  }
  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var value = input.value;
    function fallback() {
      input.focus();
      input.select();
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      announce(button, copied ? "Link copied." : "Select the link and copy it.");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(function () { announce(button, "Link copied."); }, fallback);
    } else {
      fallback();
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) { copy(button); }
  });
}());
