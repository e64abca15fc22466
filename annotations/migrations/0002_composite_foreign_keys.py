"""Composite foreign keys Django cannot declare: they keep every row inside its own study.

- an output's prompt and generator belong to the output's study;
- a comparison's prompt belongs to its study, and both its outputs answer that prompt;
- an assignment's comparison belongs to the assignment's study;
- a study's baseline generator belongs to that study.
"""

from django.db import migrations

FOREIGN_KEYS = [
    ("annotations_output", "output_prompt_in_study", "prompt_id, study_id", "annotations_prompt"),
    (
        "annotations_output",
        "output_generator_in_study",
        "generator_id, study_id",
        "annotations_generator",
    ),
    (
        "annotations_comparison",
        "comparison_prompt_in_study",
        "prompt_id, study_id",
        "annotations_prompt",
    ),
    (
        "annotations_comparison",
        "comparison_output_a_same_prompt",
        "output_a_id, prompt_id",
        "annotations_output",
    ),
    (
        "annotations_comparison",
        "comparison_output_b_same_prompt",
        "output_b_id, prompt_id",
        "annotations_output",
    ),
    (
        "annotations_assignment",
        "assignment_comparison_in_study",
        "comparison_id, study_id",
        "annotations_comparison",
    ),
    ("annotations_study", "study_baseline_in_study", "baseline_id, id", "annotations_generator"),
]

# The referenced column pairs, matching the (id, study|prompt) unique constraints of 0001.
REFERENCED = {
    "annotations_prompt": "id, study_id",
    "annotations_generator": "id, study_id",
    "annotations_output": "id, prompt_id",
    "annotations_comparison": "id, study_id",
}


def _add(table: str, name: str, columns: str, target: str) -> str:
    # DEFERRABLE so a study and its baseline generator can be created in one transaction.
    # Deleting a baseline generator must never take its study with it: NO ACTION there.
    on_delete = "NO ACTION" if table == "annotations_study" else "CASCADE"
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) "
        f"REFERENCES {target} ({REFERENCED[target]}) ON DELETE {on_delete} "
        "DEFERRABLE INITIALLY DEFERRED;"
    )


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=_add(table, name, columns, target),
            reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {name};",
        )
        for table, name, columns, target in FOREIGN_KEYS
    ]
