"""Sign-in and the signed-in landing page; each person lands where their work is."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from patients import access
from schedules import views as schedule_views


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True


@login_required
def home(request):
    if access.is_clinic_staff(request.user):
        return redirect("staff:dashboard")
    return schedule_views.landing(request)


@access.staff_required
def dashboard(request):
    return render(request, "patients/dashboard.html", {"clinics": access.staff_clinics(request.user)})
