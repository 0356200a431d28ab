// PumpCare's service worker: the patient's own next-refill page stays readable offline once seen.
// It caches only what a page of the patient's own asks it to (static/js/pwa.js posts that page's address), and
// the static files; never anything else. Signing out clears every cache (Clear-Site-Data on the sign-out
// response, and pwa.js on any signed-out page).
"use strict";

const PAGES = "pumpcare-own-pages-v1";
const STATIC = "pumpcare-static-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

async function keep(url) {
  const response = await fetch(url, { credentials: "same-origin", redirect: "manual" });
  if (response.ok && response.headers.get("X-Offline-Page") === "own") {
    await (await caches.open(PAGES)).put(url, response);
  }
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.keep && new URL(data.keep).origin === self.location.origin) {
    event.waitUntil(keep(data.keep));
  }
  if (data.forget) {
    event.waitUntil(caches.keys().then((keys) => Promise.all(keys.map((key) => caches.delete(key)))));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    // Network first: online, people always see the newest page; offline, the copy of a page kept before.
    event.respondWith((async () => {
      const pages = await caches.open(PAGES);
      const kept = await pages.match(request, { ignoreSearch: true, ignoreVary: true });
      try {
        const response = await fetch(request);
        if (kept) {
          if (response.ok && response.headers.get("X-Offline-Page") === "own") {
            await pages.put(request, response.clone());
          } else {
            await pages.delete(request);  // signed out, or no longer this person's page
          }
        }
        return response;
      } catch (error) {
        if (kept) {
          return kept;
        }
        throw error;
      }
    })());
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    // The style sheets and scripts the kept page needs: from the network, a copy kept for offline.
    event.respondWith((async () => {
      const cache = await caches.open(STATIC);
      try {
        const response = await fetch(request);
        if (response.ok) {
          await cache.put(request, response.clone());
        }
        return response;
      } catch (error) {
        const kept = await cache.match(request, { ignoreVary: true });
        if (kept) {
          return kept;
        }
        throw error;
      }
    })());
  }
});
