"""Test helpers for the admin pages: an admin's client, and a change form posted back as shown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.postgres.forms import SimpleArrayField
from django.test import Client

from annotations.services.users import user_create_or_update


def admin_client(username: str = "boss") -> Client:
    """A client logged in as an admin (force_login: django-axes guards the login form)."""
    client = Client()
    client.force_login(user_create_or_update(username=username, role="admin").user)
    return client


def _form_fields(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[key] = "on"
            continue
        if isinstance(field, SimpleArrayField):
            value = field.prepare_value(value)
        elif isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
            continue
        data[key] = "" if value is None else str(value)
    return data


def form_posted(page: Any, **changes: Any) -> dict[str, Any]:
    """The data a browser would post back from the admin add or change `page`, with `changes`."""
    context = page.context
    data = _form_fields(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_fields(formset.management_form))
        for form in formset.forms:
            data.update(_form_fields(form))
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}
