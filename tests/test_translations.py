"""The Spanish catalogue is complete, reviewed (nothing fuzzy) and compiled: pages show what the .po says."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation import ngettext

PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_every_spanish_message_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"Translate these in {PO.name}: {untranslated}"
    assert not fuzzy, f"Review these fuzzy entries in {PO.name} and remove the flag: {fuzzy}"
    assert not catalogue.metadata_is_fuzzy


def test_every_plural_has_each_form_spanish_counts_with():
    """Spanish has three plural forms (Plural-Forms): a message with two falls back to English for 2, 3, ..."""
    catalogue = polib.pofile(str(PO))
    forms = int(re.search(r"nplurals=(\d+)", catalogue.metadata["Plural-Forms"]).group(1))
    short = [e.msgid for e in catalogue if e.msgid_plural and sorted(e.msgstr_plural) != list(range(forms))]
    assert not short, f"Give these all {forms} forms in {PO.name}: {short}"
    with translation.override("es"):
        assert ngettext("%(count)d closure date added.", "%(count)d closure dates added.", 3) % {"count": 3} == (
            "Se agregaron 3 fechas de cierre."
        )


def test_placeholders_survive_translation():
    """A msgstr that drops or renames %(name)s would crash the page (or show the wrong number)."""


    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}")
    for entry in polib.pofile(str(PO)):
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        expected = set(placeholder.findall(sources[-1]))
        for text in translations:
            assert set(placeholder.findall(text)) <= expected | set(placeholder.findall(sources[0])), entry.msgid
            assert expected - {"%(count)d"} <= set(placeholder.findall(text)), entry.msgid


def test_the_compiled_catalogue_matches_the_po_file():
    """The .mo is committed (a fresh clone needs no gettext tools): `make messages` after editing the .po."""
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    for entry in polib.pofile(str(PO)).translated_entries():
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            for index, text in entry.msgstr_plural.items():
                assert compiled.get((key, index)) == text, f"{entry.msgid!r} is stale in {MO.name}: run make messages"
        else:
            assert compiled.get(key) == entry.msgstr, f"{entry.msgid!r} is stale in {MO.name}: run make messages"



# --- the catalogue follows the sources, and the templates say nothing outside translation tags -------------

TEMPLATES = Path(settings.BASE_DIR) / "templates"
TOKEN = re.compile(r"(\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}|<!--.*?-->|<[^<>]+>)", re.S)
ENTITY = re.compile(r"&#?\w+;")
LETTERS = re.compile(r"[^\W\d_]")
# Names that are the same in every language: the product's, the drug's, and units.
ALLOWED_WORDS = ("PumpCare", "FUDR", "mL")
# Attributes a person reads or hears (a screen reader announces them).
SPOKEN_ATTRIBUTES = re.compile(r'\b(aria-label|title|alt|placeholder)="([^"]*)"')
TRANSLATED_BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S)


def _words(text: str) -> str:
    text = ENTITY.sub(" ", text)
    for word in ALLOWED_WORDS:
        text = text.replace(word, " ")
    return text.strip() if LETTERS.search(text) else ""


def untranslated_text(source: str) -> list[str]:
    """Text with letters that no {% translate %} / {% blocktranslate %} covers (nor a comment, script or style)."""
    found, inside, raw = [], 0, None
    for token in TOKEN.split(source):
        if not token:
            continue
        if raw:
            raw = None if re.match(rf"</{raw}\b", token, re.I) else raw
            continue
        if token.startswith("{%"):
            word = (token[2:-2].split() or [""])[0]
            if word in ("blocktranslate", "blocktrans", "comment"):
                inside += 1
            elif word in ("endblocktranslate", "endblocktrans", "endcomment"):
                inside -= 1
            continue
        if inside or token.startswith(("{{", "{#", "<!--")):
            continue
        if token.startswith("<"):
            script = re.match(r"<(script|style)\b", token, re.I)
            if script and not token.endswith("/>"):
                raw = script.group(1)
            for name, value in SPOKEN_ATTRIBUTES.findall(token):
                if _words(TOKEN.sub("", TRANSLATED_BLOCK.sub("", value))):
                    found.append(f'{name}="{value}"')
            continue
        if _words(token):
            found.append(" ".join(token.split()))
    return found


def test_every_template_says_its_words_through_translation_tags():
    offenders = {}
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix in (".html", ".txt"):
            text = untranslated_text(path.read_text())
            if text:
                offenders[str(path.relative_to(TEMPLATES))] = text
    assert not offenders, f"Wrap these in {{% translate %}} / {{% blocktranslate %}}: {offenders}"


def test_the_template_check_finds_text_outside_the_tags():
    """The check above can fail: plain words, words in a spoken attribute, words after a translated block."""
    assert untranslated_text("<p>Next refill</p>") == ["Next refill"]
    assert untranslated_text('<nav aria-label="Main">') == ['aria-label="Main"']
    assert untranslated_text('<nav aria-label="{% blocktranslate %}Of {{ x }}{% endblocktranslate %}">') == []
    assert untranslated_text("{% blocktranslate %}Hi {{ name }}{% endblocktranslate %} there") == ["there"]
    assert untranslated_text('{% translate "Hi" %} <b>PumpCare</b> &middot; {{ value }} <script>x()</script>') == []


def _msgids(po_path: Path) -> set[tuple]:
    return {(e.msgctxt, e.msgid, e.msgid_plural) for e in polib.pofile(str(po_path)) if not e.obsolete}


def test_the_spanish_catalogue_is_up_to_date_with_the_sources(tmp_path):
    """makemessages over a copy of the project finds exactly the msgids of the committed catalogue."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext is missing: install gettext (`make gettext` does it).")
    copy = tmp_path / "project"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "staticfiles", "test-artifacts", "__pycache__", "*.sqlite3*", ".*cache"
        ),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "es", "--no-obsolete", "--no-location",
         "--ignore", "tests"],
        cwd=copy, env={**os.environ, "DEBUG": "1"}, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh, committed = _msgids(copy / "locale/es/LC_MESSAGES/django.po"), _msgids(PO)
    assert fresh == committed, (
        f"Run `make messages` and translate: new in the sources {sorted(fresh - committed)[:20]}, "
        f"gone from the sources {sorted(committed - fresh)[:20]}"
    )
