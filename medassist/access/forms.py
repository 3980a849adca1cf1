import re

from django import forms


class OneTimeCodeForm(forms.Form):
    """The code of an authenticator app, typed as shown (spaces allowed: some apps group it)."""

    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=20,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "spellcheck": "false",
            }
        ),
        error_messages={"required": "Enter the 6-digit code your authenticator app shows."},
    )

    def clean_code(self) -> str:
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError("Enter the 6 digits your authenticator app shows.")
        return code
