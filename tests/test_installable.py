"""Installable site: manifest, service worker at the root, offline copies only of the patient's own page, and a
sign-out that tells the browser to drop this site's caches."""

import json

from django.urls import reverse


def test_sign_out_clears_the_browsers_caches_of_this_site(client_for, patient_a):
    client = client_for(patient_a.user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Clear-Site-Data"] == '"cache", "storage"'
    assert client.get(f"/p/{patient_a.public_id}/").status_code == 302  # signed out indeed


def test_only_the_patients_own_next_refill_page_may_be_kept_offline(client_for, patient_a, caregiver_a, staff_a):
    own = client_for(patient_a.user).get(f"/p/{patient_a.public_id}/")
    assert own["X-Offline-Page"] == "own" and b"data-offline-page" in own.content
    for user in (caregiver_a, staff_a):
        other = client_for(user).get(f"/p/{patient_a.public_id}/")
        assert other.status_code == 200 and "X-Offline-Page" not in other and b"data-offline-page" not in other.content
    therapy = client_for(patient_a.user).get(f"/p/{patient_a.public_id}/therapy/")
    assert "X-Offline-Page" not in therapy


def test_manifest_and_service_worker_are_served_for_the_whole_site(client):
    manifest = json.loads(client.get(reverse("manifest")).content)
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    worker = client.get(reverse("service_worker"))
    assert worker["Service-Worker-Allowed"] == "/" and worker["Content-Type"].startswith("text/javascript")
    assert "worker-src 'self'" in worker["Content-Security-Policy"]
