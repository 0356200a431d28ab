"""Sign-in (the second factor for staff is in two_factor.py)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """Sign out, and say so on the sign-in page it leads to: a shared computer's next user should see it."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        # The session is gone; the message travels in the messages cookie (FallbackStorage).
        messages.success(request, "You are signed out.")
        return response
