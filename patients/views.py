"""Sign-in (the second factor for staff is in two_factor.py)."""

from django.contrib.auth import views as auth_views

from patients import security


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = security.account_wait(request, request.POST.get("username", ""))
        if wait is not None:
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")})
            return self.render_to_response(self.get_context_data(form=form, wait_seconds=wait), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        security.account_failed(form.data.get("username", ""))
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        security.remember_browser(self.request, response, form.get_user())
        return response
