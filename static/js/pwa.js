// Installable site: register the service worker (served at /sw.js for the whole site). On the patient's own
// next-refill page, ask it to keep that page for offline reading; on any signed-out page, empty its caches, so
// nobody's data stays on a shared phone after sign-out.
(function () {
  "use strict";
  var body = document.body;
  if (body.hasAttribute("data-signed-out") && window.caches) {
    caches.keys().then(function (keys) {
      keys.forEach(function (key) { caches.delete(key); });
    });
  }
  if (!("serviceWorker" in navigator)) {
    return;
  }
  navigator.serviceWorker.register(body.getAttribute("data-service-worker"), { scope: "/" }).then(function () {
    return navigator.serviceWorker.ready;
  }).then(function (registration) {
    if (body.hasAttribute("data-offline-page") && registration.active) {
      registration.active.postMessage({ keep: window.location.href });
    }
  }).catch(function () {
    // No service worker (private mode, an old browser): the site works the same, only not offline.
  });
})();
