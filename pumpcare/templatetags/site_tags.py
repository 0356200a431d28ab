"""Tags for the site's base template."""

from django import template
from django.forms import BaseForm

register = template.Library()


@register.simple_tag(takes_context=True)
def forms_with_errors(context) -> list[BaseForm]:
    """The page's submitted forms that were refused, in the order the view passed them.

    base.html uses them for the error summary at the top of the page and the "Error:" in the title, so every form
    page gets both without its own template having to ask."""
    found, seen = [], set()
    for value in context.flatten().values():
        if isinstance(value, BaseForm) and value.is_bound and id(value) not in seen and value.errors:
            seen.add(id(value))
            found.append(value)
    return found
