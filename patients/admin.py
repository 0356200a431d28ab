from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from patients import access
from patients.models import AccessEvent, CaregiverAccess, Clinic, Patient, StaffMembership


class ClinicScopedMixin:
    """Staff who are not superusers see only their own clinics' records here too."""

    clinic_path = "clinic"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.clinic_path}__in": access.staff_clinics(request.user)})


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


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    clinic_path = "pk"
    list_display = ["name", "time_zone", "phone", "open_weekdays"]

    def save_model(self, request, obj, form, change):
        from schedules import services

        super().save_model(request, obj, form, change)
        services.clinic_recompute(clinic=obj)


@admin.register(StaffMembership)
class StaffMembershipAdmin(ClinicScopedAdmin):
    list_display = ["user", "clinic", "created_at"]
    autocomplete_fields = ["user"]


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    list_display = ["name", "record_number", "clinic", "date_of_birth"]
    search_fields = ["name", "record_number"]
    list_filter = ["clinic"]
    readonly_fields = ["public_id"]


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
