from __future__ import annotations

from datetime import UTC, datetime

from django import forms

from audit.models import ExportFormat, ExportKind


class ExportForm(forms.Form):
    models = forms.MultipleChoiceField(
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="None selected: every model.",
    )
    kind = forms.ChoiceField(choices=ExportKind.choices)
    format = forms.ChoiceField(choices=ExportFormat.choices)
    since = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive."
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Exclusive."
    )
    raw_pii = forms.BooleanField(required=False, label="Export personal data unmasked")
    raw_pii_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for unmasked personal data (audited)",
    )

    def __init__(self, *args, model_slugs=(), allow_raw_pii=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["models"].choices = [(slug, slug) for slug in model_slugs]
        if not allow_raw_pii:
            del self.fields["raw_pii"]
            del self.fields["raw_pii_reason"]

    @staticmethod
    def moment(day) -> datetime | None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
