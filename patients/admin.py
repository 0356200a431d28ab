from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from patients import access
from patients.models import AccessEvent, CaregiverAccess, Clinic, Patient, StaffMembership

# How each model that belongs to a clinic reaches it; apps above add their own models (register_clinic_path).
CLINIC_PATHS = {Clinic: "pk", Patient: "clinic"}


def register_clinic_path(model, path: str) -> None:
    CLINIC_PATHS[model] = path


def scoped_choices(user, model):
    """The rows of a related model that a non-superuser may pick in the admin, or None if not clinic data."""
    path = CLINIC_PATHS.get(model)
    if path is None:
        return None
    return model.objects.filter(**{f"{path}__in": access.staff_clinics(user)})


class ClinicScopedMixin:
    """Staff who are not superusers see only their own clinics' records here too."""

    clinic_path = "clinic"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.clinic_path}__in": access.staff_clinics(request.user)})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Choices in forms are limited to the user's clinics too: no other clinic's names in a dropdown."""
        if not request.user.is_superuser:
            scoped = scoped_choices(request.user, db_field.related_model)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyMixin:
    """Records that are derived or are evidence: read here, never changed from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClinicScopedAdmin(ClinicScopedMixin, SimpleHistoryAdmin):
    """The change history of each record is one click away (django-simple-history)."""


@admin.register(StaffMembership)
class StaffMembershipAdmin(ClinicScopedAdmin):
    """Who works at a clinic: only superusers change it (staff cannot add themselves elsewhere)."""

    list_display = ["user", "clinic", "created_at"]
    autocomplete_fields = ["user"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(CaregiverAccess)
class CaregiverAccessAdmin(ClinicScopedAdmin):
    clinic_path = "patient__clinic"
    list_display = ["user", "patient", "granted_at", "revoked_at"]
    autocomplete_fields = ["user", "patient"]


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyMixin, ClinicScopedMixin, admin.ModelAdmin):
    clinic_path = "patient__clinic"
    list_display = ["at", "user", "patient", "action", "detail"]
    list_filter = ["action"]
