"""A Spanish-speaking patient in a real browser: the sign-in page switched from English, then home, calendar and
print in Spanish; every page passes axe-core with lang="es"."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from patients.models import Patient, Preferences
from schedules.management.commands.demo import ACCOUNTS
from tests.e2e.conftest import PHONE, assert_accessible, screenshot

SPANISH_DATE = re.compile(r"(Lunes|Martes|Miércoles|Jueves|Viernes) \d{1,2} de \w+")


@pytest.fixture
def demo(transactional_db, frozen):
    call_command("demo", stdout=StringIO())
    return Patient.objects.select_related("clinic").get(user__username=ACCOUNTS["patient"][0])


def sign_in_in_spanish(page, username: str, password: str) -> None:
    page.get_by_label("Nombre de usuario").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_load_state()


def test_the_sign_in_page_switches_to_spanish_and_the_patient_reads_in_spanish(page, demo):
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Español").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Iniciar sesión")
    assert "/accounts/login/" in page.url
    assert_accessible(page)
    screenshot(page, "es-sign-in-phone")

    username, password, *_ = ACCOUNTS["patient"]
    sign_in_in_spanish(page, username, password)
    assert Preferences.objects.get(user__username=username).language == "es"
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Su próximo relleno")
    refill = page.locator(".refill-card")
    expect(refill).to_contain_text(SPANISH_DATE)
    expect(refill).to_contain_text(re.compile(r"Hoy|Mañana|En \d+ días"))
    expect(refill).to_contain_text(re.compile(r"Qué se pone: (quimioterapia \(FUDR\)|solución salina heparinizada)"))
    expect(page.locator(".where-card")).to_contain_text(re.compile(r"Día \d+ de \d+|Descanso|Mantenimiento"))
    assert_accessible(page)
    screenshot(page, "es-home-phone")

    page.get_by_role("link", name="Calendario", exact=True).click()
    today = demo.clinic.today()
    months = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
              "noviembre", "diciembre"]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{months[today.month - 1].capitalize()} de {today.year}")
    expect(page.locator("thead th").first).to_have_text("Lun")
    expect(page.locator('td[aria-current="date"]')).to_contain_text("Hoy")
    assert_accessible(page)
    screenshot(page, "es-calendar-phone")
    page.get_by_role("link", name="Mes siguiente").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(" de ")
    assert_accessible(page)

    page.get_by_role("link", name="Terapia", exact=True).click()
    expect(page.get_by_role("img", name="Línea de tiempo de la terapia")).to_be_visible()
    # SVG coordinates stay numbers for the browser: a Spanish decimal comma would break the picture.
    for x in page.locator("svg.timeline rect.tl-bar").evaluate_all("els => els.map(e => e.getAttribute('x'))"):
        assert "," not in x
    assert_accessible(page)

    page.get_by_role("link", name="Imprimir", exact=True).click()
    expect(page.get_by_role("button", name="Imprimir este calendario")).to_be_visible()
    expect(page.locator("table.print-table thead")).to_contain_text("Qué se pone")
    expect(page.locator("table.print-table tbody tr")).not_to_have_count(0)
    assert_accessible(page)
    screenshot(page, "es-print-phone")


def test_a_spanish_browser_gets_spanish_before_sign_in(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
    username, password, *_ = ACCOUNTS["patient"]
    sign_in_in_spanish(page, username, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Su próximo relleno")
    assert_accessible(page)
    # And back to English with the switch, which the person's setting keeps.
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your next refill")
    assert Preferences.objects.get(user__username=username).language == "en"
    context.close()
