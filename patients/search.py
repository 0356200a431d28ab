"""Patient search that ignores accents, case, punctuation and word order: "nunez" finds "Núñez"."""

import re
import unicodedata


def normalize(text: str) -> str:
    """Lower case, accents dropped, anything but letters and digits turned to single spaces.

    "Núñez-López, María" -> "nunez lopez maria". Stored for every patient (Patient.search_text) and applied
    to what staff type, so both sides compare the same way.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.split(r"[\W_]+", plain)).strip()


def terms(query: str) -> list[str]:
    """The words of a search, each to be found somewhere in a patient's name or record number."""
    return normalize(query).split()


def patient_text(name: str, record_number: str) -> str:
    """What Patient.search_text holds for this name and record number."""
    return normalize(f"{name} {record_number}")
