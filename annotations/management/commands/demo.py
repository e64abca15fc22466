"""manage.py demo: set up the LLMFAO demo study and its users, then serve the app (gunicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from annotations.models import Role, User
from annotations.services.users import user_create_or_update

DEMO_DIR = Path(settings.BASE_DIR) / "demo" / "llmfao"
DEMO_STUDY = "llmfao"
# Demo accounts, on the local machine. A password is set when its account is made; re-running
# the demo keeps the accounts' passwords (and so their sessions) as they are.
DEMO_USERS = [
    ("rater", Role.RATER, "rater-demo-2026"),
    ("researcher", Role.RESEARCHER, "researcher-demo-2026"),
    ("admin", Role.ADMIN, "admin-demo-2026"),
]


class Command(BaseCommand):
    help = "Create the LLMFAO demo study with its judgments and demo users, then serve the app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="where to serve")
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", "--no-input", verbosity=0)
        self.stdout.write("Database ready.")
        call_command(
            "create_study",
            DEMO_STUDY,
            baseline="Weaver 12k",
            name="LLMFAO crowd comparisons",
            description=(
                "59 language models answered 13 prompts; crowd workers compared pairs. "
                "Data: LLMFAO by Dmitry Ustalov, CC BY 4.0."
            ),
            instructions_file=str(DEMO_DIR / "crowd-instruction.md"),
            pairing="vs_baseline",
            scale="ternary",
            overlap=3,
            stdout=self.stdout,
        )
        call_command(
            "load_prompts", str(DEMO_DIR / "prompts.jsonl"), study=DEMO_STUDY, stdout=self.stdout
        )
        call_command(
            "import_judgments",
            str(DEMO_DIR / "judgments.csv"),
            study=DEMO_STUDY,
            stdout=self.stdout,
        )
        host = options["addrport"]
        self.stdout.write("")
        self.stdout.write(f"Demo logins (open http://{host}/):")
        for username, role, password in DEMO_USERS:
            exists = User.objects.filter(username=username).exists()
            result = user_create_or_update(
                username=username, role=role, password=None if exists else password
            )
            shown = f"{password} (unless changed since)" if exists else password
            self.stdout.write(
                f"  {role:<10}  user {username:<10}  password {shown:<43}  API token {result.token}"
            )
        self.stdout.write("")
        if options["no_serve"]:
            return
        # The same server as `run.py serve`: gunicorn with gunicorn.conf.py, static files
        # collected and served by WhiteNoise.
        from app.serve import gunicorn_run

        call_command("collectstatic", "--no-input", verbosity=0)
        gunicorn_run(addrport=host)
