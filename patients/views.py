"""Sign-in and the signed-in landing page; each person lands where their work is."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from patients import access


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True


@login_required
def home(request):
    clinics = access.staff_clinics(request.user)
    followed = access.followed_patients(request.user).select_related("clinic")
    return render(request, "patients/home.html", {"clinics": clinics, "followed": followed})
