"""The Spanish catalogue is complete, reviewed (nothing fuzzy) and compiled: pages show what the .po says."""

import gettext
import re
from pathlib import Path

import polib
from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_every_spanish_message_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"Translate these in {PO.name}: {untranslated}"
    assert not fuzzy, f"Review these fuzzy entries in {PO.name} and remove the flag: {fuzzy}"
    assert not catalogue.metadata_is_fuzzy


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

