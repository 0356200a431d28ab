"""Sign-in and the language switch (the second factor for staff is in two_factor.py)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from patients import language, services


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        # A language picked with the switch on this device is the person's choice: it becomes their
        # setting. Otherwise their own setting applies; someone who never chose keeps what they read now.
        chosen = language.supported(self.request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
        saved = language.saved_language(user)
        current = chosen or saved or language.supported(translation.get_language()) or settings.LANGUAGE_CODE
        if current != saved:
            services.language_save(user=user, language=current)
        language.remember(self.request, current)
        return response


@require_POST
def set_language(request):
    """Django's set_language (cookie, then back to the page); for a signed-in person it also saves the setting."""
    chosen = language.supported(request.POST.get("language"))
    if chosen is not None and request.user.is_authenticated:
        services.language_save(user=request.user, language=chosen)
        language.remember(request, chosen)
    return django_set_language(request)
