"""Sign-in (the second factor for staff is in two_factor.py)."""

from django.contrib.auth import views as auth_views


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True
