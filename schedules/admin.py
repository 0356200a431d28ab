"""The admin edits schedule inputs through the same services as the site, so the projection stays current."""

from django.contrib import admin

from patients.admin import ClinicScopedAdmin, ClinicScopedMixin, ReadOnlyMixin, register_clinic_path
from patients.models import Clinic, Patient
from schedules import services
from schedules.models import (
    CalendarSubscription,
    ClinicClosure,
    Hold,
    Protocol,
    RecordedFill,
    ScheduledFill,
    TherapyPlan,
)

register_clinic_path(TherapyPlan, "patient__clinic")
register_clinic_path(Protocol, "clinic")


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    clinic_path = "pk"
    list_display = ["name", "time_zone", "phone", "open_weekdays"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.clinic_recompute(clinic=obj)


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin):
    """A pump's reservoir and flow are inputs of the schedule (S11): saving recomputes the plan."""

    patient_path = ""
    list_display = ["name", "record_number", "clinic", "date_of_birth"]
    ordering = ["name", "pk"]
    search_fields = ["name", "record_number"]
    list_filter = ["clinic"]
    readonly_fields = ["public_id"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.recompute_plans(list(TherapyPlan.objects.filter(patient=obj)))


class RecomputesPlanAdmin(ClinicScopedAdmin):
    """Saving or deleting one of these changes a plan's inputs: recompute that plan."""

    clinic_path = "plan__patient__clinic"
    patient_path = "plan__patient"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.recompute_plans([obj.plan])

    def delete_model(self, request, obj):
        plan = obj.plan
        super().delete_model(request, obj)
        services.recompute_plans([plan])

    def delete_queryset(self, request, queryset):
        plans = {obj.plan for obj in queryset.select_related("plan")}
        super().delete_queryset(request, queryset)
        services.recompute_plans(plans)


class RecomputesClinicAdmin(ClinicScopedAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.clinic_recompute(clinic=obj.clinic)

    def delete_model(self, request, obj):
        clinic = obj.clinic
        super().delete_model(request, obj)
        services.clinic_recompute(clinic=clinic)

    def delete_queryset(self, request, queryset):
        clinics = {obj.clinic for obj in queryset.select_related("clinic")}
        super().delete_queryset(request, queryset)
        for clinic in clinics:
            services.clinic_recompute(clinic=clinic)


@admin.register(Protocol)
class ProtocolAdmin(RecomputesClinicAdmin):
    list_display = ["name", "clinic", "first_chemo_after_days", "cycle_count"]


@admin.register(ClinicClosure)
class ClinicClosureAdmin(RecomputesClinicAdmin):
    list_display = ["date", "name", "clinic"]
    list_filter = ["clinic"]


@admin.register(TherapyPlan)
class TherapyPlanAdmin(ClinicScopedAdmin):
    clinic_path = "patient__clinic"
    patient_path = "patient"
    list_display = ["patient", "surgery_date", "protocol", "status", "end_date"]
    list_filter = ["status"]
    autocomplete_fields = ["patient"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.recompute_plans([obj])


@admin.register(RecordedFill)
class RecordedFillAdmin(RecomputesPlanAdmin):
    list_display = ["plan", "date", "infusate", "volume_in_ml", "volume_returned_ml", "recorded_by"]
    attribution_fields = ("recorded_by",)
    readonly_fields = ["recorded_at"]


@admin.register(Hold)
class HoldAdmin(RecomputesPlanAdmin):
    attribution_fields = ("created_by",)
    list_display = ["plan", "cycle", "attempt", "planned_date", "reason"]


@admin.register(ScheduledFill)
class ScheduledFillAdmin(ReadOnlyMixin, ClinicScopedMixin, admin.ModelAdmin):
    """The projection is derived: read it here, change it through its inputs."""

    clinic_path = "clinic"
    patient_path = "plan__patient"
    list_display = ["plan", "sequence", "date", "infusate", "kind", "cycle", "recorded", "active", "revision"]
    list_filter = ["kind", "recorded", "active"]


@admin.register(CalendarSubscription)
class CalendarSubscriptionAdmin(ClinicScopedAdmin):
    """Links are managed on the site (the secret is shown once there); here they can be read and stopped."""

    clinic_path = "patient__clinic"
    patient_path = "patient"
    revert_allowed = False
    list_display = ["name", "patient", "detail", "created_at", "last_fetched_at", "revoked_at"]
    list_filter = ["detail"]
    exclude = ["token_hash"]
    readonly_fields = ["public_id", "patient", "owner", "name", "detail", "created_at", "last_fetched_at"]
    attribution_fields = ("created_by",)

    def has_add_permission(self, request):
        return False
