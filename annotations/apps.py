"""App configuration for the annotations app."""

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotations"
    verbose_name = "Preference evaluation"

    def ready(self) -> None:
        # The results downloads join the export registry once every model is loaded.
        from annotations.exports.results import results_formats_register

        results_formats_register()
