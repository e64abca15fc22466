"""The shared cache's table (CACHES in app/settings.py), made wherever migrations run.

`manage.py createcachetable` makes it too (and the test database's creation calls it); as a
migration it also exists after a plain `manage.py migrate` on a new host or database, so the
results computed by one gunicorn worker are found by the others from the start.
"""

from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor):
    # Creates the table of every database cache in CACHES that does not exist yet; a no-op
    # for other cache backends.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0010_judge_source"),
    ]

    # Reversing leaves the table: `createcachetable` would make it again anyway.
    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop)]
