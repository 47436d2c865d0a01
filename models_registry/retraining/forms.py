"""Forms of the retraining pages: what a person types, checked before a service sees it."""

from django import forms

from models_registry.models import SignOffDecision


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, strip=True)


class SignOffForm(forms.Form):
    decision = forms.ChoiceField(choices=SignOffDecision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000, strip=True
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == SignOffDecision.REJECT and not data.get("comment"):
            self.add_error("comment", "Say why you reject the candidate.")
        return data
