from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from patients import access, audit, sessions
from patients.models import AccessEvent, CaregiverAccess, Clinic, Patient, StaffMembership

# How each model that belongs to a clinic reaches it; apps above add their own models (register_clinic_path).
CLINIC_PATHS = {Clinic: "pk", Patient: "clinic"}


def register_clinic_path(model, path: str) -> None:
    CLINIC_PATHS[model] = path


def scoped_choices(user, model):
    """The rows of a related model that a non-superuser may pick in the admin, or None if not clinic data."""
    if model is get_user_model():
        return access.clinic_people(user)
    path = CLINIC_PATHS.get(model)
    if path is None:
        return None
    return model.objects.filter(**{f"{path}__in": access.staff_clinics(user)})


class ClinicScopedMixin:
    """Staff who are not superusers see only their own clinics' records here too.

    - every per-object view (change, delete, history, history form) finds its object through get_queryset,
      so another clinic's record answers 404 (or the admin's "does not exist" redirect);
    - choices in forms and list filters offer only the user's clinics' rows;
    - attribution_fields (who did it) are set from the signed-in user, never picked from a list;
    - opening a patient's record writes an access event, as a staff page does (patient_path reaches it).
    """

    clinic_path = "clinic"
    attribution_fields: tuple[str, ...] = ()
    patient_path: str | None = None

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.clinic_path}__in": access.staff_clinics(request.user)})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and self.patient_path is not None:
            patient = obj
            for step in filter(None, self.patient_path.split("__")):
                patient = getattr(patient, step)
            audit.record_view(request, patient)
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Choices in forms are limited to the user's clinics too: no other clinic's names in a dropdown."""
        if not request.user.is_superuser:
            scoped = scoped_choices(request.user, db_field.related_model)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        # A filter on a relation lists every row of the related model (every clinic's name): list only the
        # rows that this user's records point to.
        return [
            (item, admin.RelatedOnlyFieldListFilter)
            if isinstance(item, str) and get_fields_from_path(self.model, item)[-1].is_relation
            else item
            for item in super().get_list_filter(request)
        ]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self.attribution_fields)

    def save_model(self, request, obj, form, change):
        if not change:
            for field in self.attribution_fields:
                setattr(obj, field, request.user)
        super().save_model(request, obj, form, change)


class ReadOnlyMixin:
    """Records that are derived or are evidence: read here, never changed from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClinicScopedAdmin(ClinicScopedMixin, SimpleHistoryAdmin):
    """The change history of each record is one click away (django-simple-history), within the same scope."""

    # A revert writes an old version back whole, including fields the form does not show: off where such a
    # field is a secret (a calendar link's token hash).
    revert_allowed = True

    def history_view(self, request, object_id, extra_context=None):
        # simple-history falls back to the newest historical record when the object is not in get_queryset():
        # that let another clinic read any record through its history. Only superusers see deleted records'.
        if self.get_object(request, unquote(object_id)) is None and not request.user.is_superuser:
            raise Http404("No such record.")
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None and not request.user.is_superuser:
            raise Http404("No such record.")
        # simple-history saves a POST here (a revert) without asking whether the user may change the record.
        if request.method == "POST" and not (self.revert_allowed and self.has_change_permission(request, obj)):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return not self.revert_allowed or super().revert_disabled(request, obj)


class SuperuserWritesMixin:
    """Records that grant rights: only superusers add, change or delete them."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(StaffMembership)
class StaffMembershipAdmin(SuperuserWritesMixin, ClinicScopedAdmin):
    """Who works at a clinic: only superusers change it (staff cannot add themselves elsewhere)."""

    list_display = ["user", "clinic", "created_at"]
    autocomplete_fields = ["user"]


@admin.register(CaregiverAccess)
class CaregiverAccessAdmin(ClinicScopedAdmin):
    clinic_path = "patient__clinic"
    patient_path = "patient"
    attribution_fields = ("granted_by",)
    list_display = ["user", "patient", "granted_at", "revoked_at"]
    autocomplete_fields = ["user", "patient"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.revoked_at is not None:
            sessions.end_sessions(obj.user)  # as when staff revoke it on the site


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyMixin, ClinicScopedMixin, admin.ModelAdmin):
    clinic_path = "patient__clinic"
    list_display = ["at", "user", "patient", "action", "detail"]
    list_filter = ["action"]


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class ScopedUserAdmin(UserAdmin):
    """Accounts: staff who are not superusers see only their clinics' people, and cannot hand out admin rights."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=access.clinic_people(request.user).values("pk"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not obj.is_active:
            sessions.end_sessions(obj)  # a deactivated account is signed out everywhere, now

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and not request.user.is_superuser:
            # Anyone who may set these could make themselves a superuser.
            readonly = (*readonly, "is_staff", "is_superuser", "groups", "user_permissions")
        return readonly


@admin.register(Group)
class SuperuserGroupAdmin(SuperuserWritesMixin, GroupAdmin):
    """A group's permissions are admin rights: only superusers change them."""
