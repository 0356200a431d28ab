"""Email for development: printed to the console, with secret links (password reset, invitations, feeds) cut out.

Whoever can read the server's output must not be able to sign in as a patient from it.
"""

import copy

from django.core.mail.backends.console import EmailBackend
from django.core.mail.message import EmailAlternative

from pumpcare.logging import redact


class RedactingConsoleBackend(EmailBackend):
    def write_message(self, message):
        # Redact the text before it is encoded: a quoted-printable line break could split a link past a pattern.
        shown = copy.copy(message)
        shown.body = redact(message.body)
        # Django 5.2 reads alternatives as EmailAlternative(content, mimetype), not plain tuples.
        shown.alternatives = [
            EmailAlternative(redact(content), mimetype) for content, mimetype in getattr(message, "alternatives", [])
        ]
        super().write_message(shown)
