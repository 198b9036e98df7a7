"""The exclusion calendars in the admin: one entry per line (not JSON), each line checked as
``add_calendar`` checks it, the error under its field naming the line. Saves and deletes go
through ``api_calendars`` (a calendar in use cannot be deleted: the admin says which schedules
name it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_schedules import calendars, store
from django_schedules.api_calendars import add_calendar, remove_calendar
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Calendar

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    _CalendarModelForm = forms.ModelForm[Calendar]
    _CalendarModelAdmin = admin.ModelAdmin[Calendar]
else:
    _CalendarModelForm = forms.ModelForm
    _CalendarModelAdmin = admin.ModelAdmin

# Each list field: its check, its help, and how a stored entry is shown on one line.
LINES = {
    "dates": (
        calendars.check_dates,
        _("One day per line, as YYYY-MM-DD, e.g. 2026-12-25. Each covers the whole day."),
    ),
    "ranges": (
        calendars.check_ranges,
        _(
            "One range per line: two days as 2026-12-24 2026-12-31 (both days whole), or two "
            "times as 2026-06-01T22:00 2026-06-02T02:00 (from the first, up to the second)."
        ),
    ),
    "weekly": (
        calendars.check_weekly,
        _(
            "One window per line: days and times, e.g. sat 00:00-06:00, mon-fri 12:00-13:00, "
            "sat,sun 00:00-24:00; fri 22:00-02:00 runs past midnight into Saturday."
        ),
    ),
    "yearly": (
        calendars.check_yearly,
        _("One day of the year per line, as MM-DD, e.g. 12-25 (02-29 only in leap years)."),
    ),
}


def _split(field: str, text: str) -> list[Any]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if field == "ranges":
        return [line.replace("/", " ").split() for line in lines]
    return lines


def _shown(field: str, value: Any) -> str:
    if field == "ranges":
        return "\n".join(" ".join(pair) for pair in value or [])
    return "\n".join(value or [])


class CalendarForm(_CalendarModelForm):
    dates = forms.CharField(label=_("Single days"), required=False)
    ranges = forms.CharField(label=_("Date ranges"), required=False)
    weekly = forms.CharField(label=_("Weekly windows"), required=False)
    yearly = forms.CharField(label=_("Yearly days"), required=False)

    class Meta:
        model = Calendar
        fields = ("name", "timezone", "dates", "ranges", "weekly", "yearly", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk and "timezone" in self.fields:
            self.initial.setdefault("timezone", conf.TIME_ZONE)  # as add_calendar defaults
        for field, (_check, help_text) in LINES.items():
            if field in self.fields:
                self.fields[field].widget = forms.Textarea(attrs={"rows": 3, "cols": 50})
                self.fields[field].help_text = help_text
                if self.instance.pk:
                    self.initial[field] = _shown(field, getattr(self.instance, field))

    def clean_name(self) -> str:
        try:
            return calendars.check_name(self.cleaned_data.get("name"))
        except InvalidSchedule as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_timezone(self) -> str:
        try:
            return calendars.check_timezone(self.cleaned_data.get("timezone"))
        except InvalidSchedule as exc:
            raise forms.ValidationError(str(exc)) from exc

    def _clean_lines(self, field: str) -> list[Any]:
        check: Callable[[Any, str], list[Any]] = LINES[field][0]  # type: ignore[assignment]
        try:
            return check(_split(field, self.cleaned_data.get(field, "")), field)
        except InvalidSchedule as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_dates(self) -> list[Any]:
        return self._clean_lines("dates")

    def clean_ranges(self) -> list[Any]:
        return self._clean_lines("ranges")

    def clean_weekly(self) -> list[Any]:
        return self._clean_lines("weekly")

    def clean_yearly(self) -> list[Any]:
        return self._clean_lines("yearly")

    def validate_unique(self) -> None:
        # Calendars live in SCHEDULES_DATABASE, which Django's own check does not read.
        name = self.cleaned_data.get("name")
        if not name or "name" in self.errors or "name" not in self.fields:
            return
        existing = store.get_calendar(name)
        if existing is not None and existing.pk != self.instance.pk:
            self.add_error("name", self.instance.unique_error_message(Calendar, ("name",)))


@admin.register(Calendar)
class CalendarAdmin(_CalendarModelAdmin):
    form = CalendarForm
    list_display = ("name", "timezone", "summary", "updated_at")
    search_fields = ("name", "description")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Calendar]:
        return super().get_queryset(request).using(store.database_alias())

    def get_readonly_fields(self, request: HttpRequest, obj: Calendar | None = None) -> Any:
        # Schedules name a calendar: renaming it would leave them naming nothing.
        return ("name", "used_by") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Calendar | None = None) -> Any:
        fields = list(CalendarForm.Meta.fields)
        return [*fields, "used_by"] if obj is not None else fields

    @admin.display(description=_("used by"))
    def used_by(self, obj: Calendar) -> str:
        """The job ids of the schedules naming it (one query)."""
        return ", ".join(store.users_of(obj.name)) or str(_("no schedule"))

    @admin.display(description=_("entries"))
    def summary(self, obj: Calendar) -> str:
        parts = [
            f"{len(getattr(obj, field) or [])} {field}" for field in LINES if getattr(obj, field)
        ]
        return ", ".join(parts) or "—"

    def save_model(self, request: HttpRequest, obj: Calendar, form: Any, change: bool) -> None:
        """Save through add_calendar (the same checks as code); the form checked each line."""
        saved = add_calendar(
            obj.name,
            dates=obj.dates,
            ranges=obj.ranges,
            weekly=obj.weekly,
            yearly=obj.yearly,
            timezone=obj.timezone,
            description=obj.description,
        )
        obj.pk = saved.pk
        obj.refresh_from_db(using=store.database_alias())

    def delete_model(self, request: HttpRequest, obj: Calendar) -> None:
        try:
            remove_calendar(obj.name)
        except InvalidSchedule as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Calendar]) -> None:
        for name in queryset.values_list("name", flat=True):
            try:
                remove_calendar(name)
            except InvalidSchedule as exc:
                self.message_user(request, str(exc), messages.ERROR)
