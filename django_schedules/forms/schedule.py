"""The admin's schedule form: what runs, its options (from ``options.OPTIONS``) and its timing
(``TriggerForm``), checked as ``add_job`` checks them so that a form that saves is a valid
schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from django_schedules import store
from django_schedules.api import build_schedule
from django_schedules.conf import conf
from django_schedules.exceptions import (
    JobNotRegistered,
    SchedulesError,
)
from django_schedules.forms.kinds import build_trigger, initial_from_trigger
from django_schedules.forms.timing import NamedJSONField, TriggerForm
from django_schedules.models import Schedule, ScheduleSource
from django_schedules.options import (
    BY_NAME,
    FORM_FIELDS,
    FORM_HELP_TEXTS,
    FORM_SETTINGS,
    OPTIONS,
    check_run_limit,
    jitter_bound,
)
from django_schedules.registry import get_registered, registered_jobs
from django_schedules.triggers import BaseTrigger, CronTrigger, trigger_from_dict

if TYPE_CHECKING:  # django-stubs' generics; at run time ModelForm takes no parameters.
    _ScheduleModelForm = forms.ModelForm[Schedule]
else:
    _ScheduleModelForm = forms.ModelForm


# The settings the admin hands to the API by the same name (see check_like_the_api).
API_OPTIONS = FORM_SETTINGS
PAUSE_FIELDS = ("pause_reason", "paused_until")
# How many fire times the "will it ever fire" check looks at.
LOOK_AHEAD = 10


def _job_choices() -> list[tuple[str, str]]:
    choices = [("", "---------")]
    for registered in registered_jobs():
        name = registered.name
        choices.append((name, f"{name} — {registered.help}" if registered.help else name))
    return choices


class ScheduleForm(_ScheduleModelForm, TriggerForm):
    """Create and edit a schedule; ``self.trigger`` is the built trigger after ``is_valid()``."""

    func = forms.ChoiceField(label=_("Job"), choices=())
    args = NamedJSONField(
        label=_("Positional arguments"),
        required=False,
        initial=list,
        help_text=_('A JSON list, such as ["weekly", 7]. Empty for none.'),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    kwargs = NamedJSONField(
        label=_("Keyword arguments"),
        required=False,
        initial=dict,
        help_text=_('A JSON object, such as {"recipient": "team@example.com"}. Empty for none.'),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    class Meta:
        model = Schedule
        fields = FORM_FIELDS
        help_texts = {name: text for name, text in FORM_HELP_TEXTS.items() if name != "executor"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        func_field = self.fields.get("func")
        if isinstance(func_field, forms.ChoiceField):
            func_field.choices = _job_choices()
        if "executor" in self.fields:  # absent when the admin shows the form read-only
            self.fields["executor"] = forms.ChoiceField(
                label=_("Executor"),
                choices=[(name, name) for name in conf.SCHEDULES_EXECUTORS],
                initial="default",
                help_text=FORM_HELP_TEXTS["executor"],
            )
        if "calendars" in self.fields:  # the names to choose from: one query
            self.fields["calendars"] = forms.MultipleChoiceField(
                label=_("Exclusion calendars"),
                choices=[(name, name) for name in store.calendar_names()],
                required=False,
                widget=forms.CheckboxSelectMultiple,
                help_text=FORM_HELP_TEXTS["calendars"],
            )
        until = self.fields.get("paused_until")
        if until is not None and isinstance(until.widget, forms.MultiWidget):
            # Two inputs under one label: each says which half of the field it is.
            day, clock = until.widget.widgets
            day.attrs["aria-label"] = _("%(label)s: date") % {"label": until.label}
            clock.attrs["aria-label"] = _("%(label)s: time") % {"label": until.label}
        # What the page showed, also when bound: changed_data compares the POST with it.
        self.initial.setdefault("timezone", conf.TIME_ZONE)
        if self.instance.pk and self.instance.trigger:
            self.initial.update(initial_from_trigger(self.instance.trigger))
        if self.instance.pk and "job_id" in self.fields:
            self.fields["job_id"].disabled = True
        if not self.timing_editable:
            # Shown as text by the admin (its description and next fire times), kept as it is.
            for name in TriggerForm.base_fields:
                self.fields.pop(name, None)
        self.trigger: BaseTrigger | None = None

    @staticmethod
    def edits_timing_of(instance: Schedule) -> bool:
        """False for combined (AND/OR) triggers, which this form cannot express, and for the
        timing of a schedule declared in code or settings, which is changed there."""
        declared = bool(instance.pk) and instance.source != ScheduleSource.ADMIN
        return not instance.combines_triggers and not declared

    @property
    def timing_editable(self) -> bool:
        return self.edits_timing_of(self.instance)

    def stored_trigger(self) -> BaseTrigger | None:
        if not self.instance.pk or not self.instance.trigger:
            return None
        try:
            return trigger_from_dict(self.instance.trigger)
        except ValueError:
            return None

    def timing_touched(self) -> bool:
        """Whether any timing field differs from what the form showed."""
        changed = set(self.changed_data)
        return any(name in changed for name in TriggerForm.base_fields if name in self.fields)

    # -- validation ---------------------------------------------------------------------------

    def clean_func(self) -> str:
        name: str = self.cleaned_data["func"]
        try:
            get_registered(name)
        except JobNotRegistered as exc:
            raise forms.ValidationError(
                _("%(value)r is not a registered job."), params={"value": name}
            ) from exc
        return name

    def clean_args(self) -> list[Any]:
        value = self.cleaned_data.get("args")
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise forms.ValidationError(
                _("Positional arguments must be a JSON list, got %(value)s."),
                params={"value": json.dumps(value)},
            )
        return value

    def clean_kwargs(self) -> dict[str, Any]:
        value = self.cleaned_data.get("kwargs")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                _("Keyword arguments must be a JSON object, got %(value)s."),
                params={"value": json.dumps(value)},
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = forms.ModelForm.clean(self) or {}
        func, args, kwargs = cleaned.get("func"), cleaned.get("args"), cleaned.get("kwargs")
        if func and args is not None and kwargs is not None:
            bind_error = signature_error(func, args, kwargs)
            if bind_error:
                field = "args" if "positional" in bind_error else "kwargs"
                self.add_error(field, bind_error)
        if cleaned.get("enabled", True):  # enabled means not paused: no reason, no end
            cleaned.update({name: BY_NAME[name].default for name in PAUSE_FIELDS})
            if self.instance.pk and not self.instance.enabled and "max_runs" not in self.errors:
                try:  # resuming: refused at the run limit, as resume_job refuses it
                    check_run_limit(True, cleaned.get("max_runs"), self.instance.runs_started)
                except SchedulesError as exc:
                    self.add_error("max_runs", option_message(exc, "max_runs"))
        self.check_like_the_api(cleaned)
        if self.timing_editable and not self.timing_field_errors(cleaned):
            self.clean_timing(cleaned)
        return cleaned

    def clean_timing(self, cleaned: dict[str, Any]) -> None:
        """Set ``self.trigger`` to the timing to save; None keeps the stored one.

        Timing fields left as shown keep the stored trigger exactly (its next run too); a
        timing built from the fields that fires as the stored one does is kept as well.
        """
        stored = self.stored_trigger()
        if stored is not None and not self.timing_touched():
            return
        kept: dict[str, datetime | None] = {}
        if stored is not None and stored.kind == cleaned.get("trigger_kind"):
            # A window field left alone keeps its stored value to the microsecond.
            changed = set(self.changed_data)
            kept = {
                name: getattr(stored, name)
                for name in ("start_date", "end_date")
                if name not in changed
            }
        trigger = build_trigger(cleaned, self.add_error, reject_past_date=True, kept=kept)
        if trigger is None or (stored is not None and trigger.same_schedule(stored)):
            return
        if self.check_it_fires(trigger, cleaned):
            self.trigger = trigger

    def check_it_fires(self, trigger: BaseTrigger, cleaned: dict[str, Any]) -> bool:
        """Refuse a timing that will never fire, or whose jitter reaches the next fire time."""
        now = datetime.now(UTC)
        fires = trigger.fire_times(now, LOOK_AHEAD)
        if not fires:
            end = trigger.end_date
            if end is not None and end < now:
                field, why = "end_date", _("It ends before now: it would never run.")
            elif isinstance(trigger, CronTrigger) and cleaned.get("cron_year"):
                field, why = (
                    "cron_year",
                    _("No year given here is still to come: it would never run."),
                )
            else:
                field, why = None, _("This timing has no fire time after now: it would never run.")
            self.add_error(field if field in self.fields else None, why)
            return False
        jitter = trigger.jitter or 0
        bound = jitter_bound(trigger, now)
        if jitter and timedelta(seconds=jitter) >= bound:
            self.add_error(
                "jitter",
                _(
                    "%(value)s seconds is too long: jitter must be shorter than the time "
                    "between two runs and than a day, here less than %(bound)s seconds."
                )
                % {"value": _number(jitter), "bound": _number(bound.total_seconds())},
            )
            return False
        return True

    def check_like_the_api(self, cleaned: dict[str, Any]) -> None:
        """Put on its field whatever the API would refuse about the other settings.

        The admin saves through the API, so a value the form let through and the API refuses
        (a zero timeout, a negative retry delay, a grace time past the column's range) would be
        a server error instead of a form error.
        """
        options = {name: cleaned[name] for name in API_OPTIONS if name in cleaned}
        refused = False
        for name, value in options.items():  # each on its own field, all of them at once
            try:
                BY_NAME[name].clean(value)
            except SchedulesError as exc:
                refused = True
                self.add_error(_FORM_NAME.get(name), option_message(exc, name))
        if refused or not cleaned.get("func"):
            return
        if self.errors.keys() & {"func", "args", "kwargs", "job_id"}:
            return
        try:
            build_schedule(
                cleaned["func"],
                args=cleaned.get("args"),
                kwargs=cleaned.get("kwargs"),
                id=cleaned.get("job_id") or self.instance.job_id,
                enabled=cleaned.get("enabled", True),  # pause_reason and paused_until need it
                **options,
            )
        except SchedulesError as exc:
            # The API's option names are the form's field names (``id`` is ``job_id``).
            name = getattr(exc, "field", None) or ""
            field = _FORM_NAME.get(name)
            self.add_error(field if field in self.fields else None, option_message(exc, name))

    def validate_unique(self) -> None:
        # Django's own check reads the default database; the schedules are in SCHEDULES_DATABASE.
        job_id = self.cleaned_data.get("job_id")
        if not job_id or "job_id" in self.errors or "job_id" not in self.fields:
            return
        taken = Schedule.objects.using(store.database_alias()).filter(job_id=job_id)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error("job_id", self.instance.unique_error_message(Schedule, ("job_id",)))


_FORM_NAME = {option.name: option.column for option in OPTIONS if option.form and option.column}


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def option_message(exc: Exception, name: str) -> str:
    """The API's message for an option, as said under the option's own field: without the
    option's code name in front, "None" said as "empty"."""
    text = str(exc)
    if name and text.startswith(f"{name} "):
        text = text[len(name) + 1 :]
    text = text[:1].upper() + text[1:]
    text = text.replace(", or None", ", or empty").replace(", got ", "; got ")
    return text if text.endswith(".") else text + "."


def signature_error(func_name: str, args: list[Any], kwargs: dict[str, Any]) -> str | None:
    """Return why `args` and `kwargs` do not bind to the registered callable, or None."""
    try:
        registered = get_registered(func_name)
    except JobNotRegistered:
        return None  # reported on the func field
    try:
        registered.bind(args, kwargs)
    except TypeError as exc:
        return f"The arguments do not fit: {exc}."
    return None
