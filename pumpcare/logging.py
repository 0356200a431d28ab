"""Keep secrets in URLs (calendar feed links, password-reset links) out of the logs."""

import logging
import re

SECRET_PATHS = [
    (re.compile(r"/feeds/[^/\s?\"']+"), "/feeds/[redacted]"),
    (re.compile(r"/reset/[^/\s]+/[^/\s]+/"), "/reset/[redacted]/"),
]


def redact(text: str) -> str:
    for pattern, replacement in SECRET_PATHS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
