// Record-a-fill form: say when a non-FUDR infusate turns a due chemo fill into a hold, and stop a double
// click from sending the form twice (the server also refuses a second record; this just saves a round trip).
(function () {
  "use strict";
  var form = document.getElementById("fill-form");
  if (!form) { return; }
  var infusate = form.querySelector("select[name='infusate']");
  var note = document.getElementById("hold-note");
  function update() {
    if (!infusate || !note) { return; }
    var chemo = infusate.value === "fudr" || infusate.value === "fudr_dex";
    note.hidden = !(form.dataset.chemoExpected && !chemo);
  }
  if (infusate) { infusate.addEventListener("change", update); update(); }
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[data-once]");
    if (button) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    }
  });
})();
