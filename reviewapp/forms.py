"""Forms of the reviewer UI. Field checks only; the decision rules live in the services."""

from __future__ import annotations

from django import forms

from reviewapp.models import ReviewActionKind


class DecisionForm(forms.Form):
    """One form for every action, so a plain HTTP client can post ``action=approve``."""

    action = forms.ChoiceField(choices=ReviewActionKind.choices)
    output = forms.CharField(required=False, max_length=2000, strip=True)
    comment = forms.CharField(required=False, max_length=4000, strip=True)

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == ReviewActionKind.OVERRIDE and not data.get("output"):
            self.add_error("output", "Give the corrected output.")
        if action in (
            ReviewActionKind.OVERRIDE,
            ReviewActionKind.REJECT,
            ReviewActionKind.ESCALATE,
        ) and not data.get("comment"):
            self.add_error("comment", f"A comment is required to {action}.")
        return data
