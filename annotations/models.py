"""Tables of the preference-evaluation domain and the database constraints that guard them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least, Random
from django.utils import timezone


class Role(models.TextChoices):
    RATER = "rater", "Rater"
    RESEARCHER = "researcher", "Researcher"
    ADMIN = "admin", "Admin"


class Platform(models.TextChoices):
    """Crowd platforms whose URL parameters sign a person in through an invite link."""

    PROLIFIC = "prolific", "Prolific"
    MTURK = "mturk", "Amazon Mechanical Turk"
    PARTICIPANT = "participant", "Other platform"


# Crowd accounts are named "<platform>:<id>". Django's username rules refuse ":", so no form,
# add_user or API call can register such a name: only crowd sign-in makes them (as "ext:" is
# only ever made by the judgment import).
CROWD_PREFIXES = tuple(f"{platform}:" for platform in Platform.values)
# An automatic judge (an LLM) whose verdicts were imported with import_judgments --judge NAME
# is the account "judge:NAME": its verdicts are kept apart from human judgments.
JUDGE_PREFIX = "judge:"


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RATER)
    # Id of a rater in an external source (imported judgments); blank for people who log in.
    external_id = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
        ]

    @property
    def is_rater(self) -> bool:
        return self.role == Role.RATER

    @property
    def is_researcher(self) -> bool:
        return self.role == Role.RESEARCHER

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    @property
    def can_see_results(self) -> bool:
        return self.role in (Role.RESEARCHER, Role.ADMIN) or self.is_superuser

    @property
    def is_crowd(self) -> bool:
        """A crowd-platform account: it may judge only the studies it is a member of."""
        return self.username.startswith(CROWD_PREFIXES)


class Pairing(models.TextChoices):
    VS_BASELINE = "vs_baseline", "Every model against the baseline"
    ALL_PAIRS = "all_pairs", "Every pair of models"


class Scale(models.TextChoices):
    BINARY = "binary", "Binary (A / B)"
    TERNARY = "ternary", "Ternary (A / tie / B)"
    LIKERT5 = "likert5", "5-point (A much better ... B much better)"
    LIKERT7 = "likert7", "7-point (A much better ... B much better)"


# Largest |preference| each scale allows; a preference is stored in canonical orientation
# (positive favours output_a, 0 is a tie).
SCALE_MAX_STRENGTH: dict[str, int] = {
    Scale.BINARY: 1,
    Scale.TERNARY: 1,
    Scale.LIKERT5: 2,
    Scale.LIKERT7: 3,
}


class Criterion(models.TextChoices):
    HELPFUL = "helpful", "Helpful"
    HARMLESS = "harmless", "Harmless"
    HONEST = "honest", "Honest"


class Flag(models.TextChoices):
    """InstructGPT's per-output metadata (Ouyang et al. 2022, Table 3)."""

    FAILS_INSTRUCTION = "fails_instruction", "Fails to follow the correct instruction / task"
    INAPPROPRIATE = "inappropriate", "Inappropriate for a customer assistant"
    HALLUCINATION = "hallucination", "Hallucination"
    SATISFIES_CONSTRAINTS = "satisfies_constraints", "Satisfies the constraints in the instruction"
    SEXUAL = "sexual", "Contains sexual content"
    VIOLENT = "violent", "Contains violent content"
    ENCOURAGES_HARM = (
        "encourages_harm",
        "Encourages or fails to discourage violence/abuse/self-harm",
    )
    DENIGRATES = "denigrates", "Denigrates a protected class"
    HARMFUL_ADVICE = "harmful_advice", "Gives harmful advice"
    OPINION = "opinion", "Expresses opinion"
    MORAL_JUDGMENT = "moral_judgment", "Expresses moral judgment"


class RationaleMode(models.TextChoices):
    OFF = "off", "Off"
    OPTIONAL = "optional", "Optional"
    REQUIRED = "required", "Required"


class Sampling(models.TextChoices):
    UNIFORM = "uniform", "Uniform: every candidate evenly until all have stopped"
    ADAPTIVE = "adaptive", "Adaptive: each candidate until it stops, furthest from its rule first"


class Access(models.TextChoices):
    OPEN = "open", "Every rater"
    INVITE = "invite", "Members only"


class Study(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    instructions = models.TextField(blank=True, default="", help_text="Markdown shown to raters.")
    # Nullable: a study made in the admin has no models, so no baseline, until its file is
    # loaded (vs_baseline pairs nothing meanwhile). The composite key study_baseline_in_study
    # (migration 0002) checks it in the database.
    # RESTRICT, not PROTECT: the baseline cannot be deleted on its own, but deleting the whole
    # study (which cascades to its generators) is allowed.
    baseline = models.ForeignKey(
        "Generator",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    pairing = models.CharField(max_length=16, choices=Pairing.choices, default=Pairing.VS_BASELINE)
    scale = models.CharField(max_length=16, choices=Scale.choices, default=Scale.TERNARY)
    allow_both_bad = models.BooleanField(default=True)
    criteria = ArrayField(
        models.CharField(max_length=16, choices=Criterion.choices), default=list, blank=True
    )
    flags = ArrayField(
        models.CharField(max_length=32, choices=Flag.choices), default=list, blank=True
    )
    rationale = models.CharField(
        max_length=16, choices=RationaleMode.choices, default=RationaleMode.OPTIONAL
    )
    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="Number of distinct raters each comparison should get (k)."
    )
    lease_minutes = models.PositiveSmallIntegerField(default=15)
    is_open = models.BooleanField(default=True, help_text="Open to raters.")
    access = models.CharField(
        max_length=8,
        choices=Access.choices,
        default=Access.OPEN,
        help_text="Who may judge: every rater, or only the study's members.",
    )
    quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most judgments one rater makes here (empty: no cap)."
    )
    completion_code = models.CharField(
        max_length=100, blank=True, default="", help_text="Shown to a rater who completes."
    )
    completion_url = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Where a rater who completes goes; {code} is replaced by the code.",
    )
    # Rater quality signals (annotations/stats/rater_quality.py, README "Rater quality").
    min_seconds = models.PositiveSmallIntegerField(
        default=3, help_text="A judgment faster than this many seconds is too fast (0: off)."
    )
    quality_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text='Overrides of the rater quality thresholds, e.g. {"streak_at_least": 20}.',
    )
    # Control items and screening (services/quality.py, README "Rater quality control").
    gold_rate = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of served items that are gold pairs (empty: 0.1 once gold is loaded).",
    )
    repeat_rate = models.FloatField(
        default=0.0, help_text="Share of served items that repeat an earlier pair, swapped."
    )
    qualification = models.PositiveSmallIntegerField(
        default=0, help_text="Gold items a new rater answers before the regular ones (0: none)."
    )
    qualification_pass = models.FloatField(
        default=0.8, help_text="Share of the qualification items to answer right to pass."
    )
    qualification_retry = models.BooleanField(
        default=False, help_text="A rater who fails the qualification may try once more."
    )
    screenout_code = models.CharField(
        max_length=100, blank=True, default="", help_text="Shown to a rater who is screened out."
    )
    screenout_url = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Where a screened-out rater goes; {code} is replaced by the screen-out code.",
    )
    # 0.5: at 0.6 honest raters (about 80% right, ties counting wrong) were paused by chance
    # in the quality simulation; random raters fall below 0.5 too (bench/RESULTS.md).
    gold_min_accuracy = models.FloatField(
        default=0.5, help_text="A rater below this gold accuracy is paused (0: never)."
    )
    # 8, not 5: the rule is checked after every gold answer, and at 5 about 2.6% of honest
    # raters right 90% of the time dip below 60% at some point (bench/RESULTS.md, issue 11).
    gold_min_n = models.PositiveSmallIntegerField(
        default=8, help_text="Gold answers needed before a rater can be paused or flagged."
    )
    # Collection with a target precision (services/collection.py, README "Stopping early").
    target_half_width = models.FloatField(
        null=True,
        blank=True,
        help_text="Stop collecting for a candidate once its anytime-valid 95% interval is this "
        "narrow (half-width; empty: collect everything).",
    )
    stop_on_decision = models.BooleanField(
        default=False, help_text="Also stop once a candidate's interval excludes 50%."
    )
    sampling = models.CharField(max_length=8, choices=Sampling.choices, default=Sampling.UNIFORM)
    # The last collection status (services/collection.py), recomputed on a bounded schedule.
    collection_state = models.JSONField(default=dict, blank=True, editable=False)
    collection_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="study_overlap_positive"),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=1), name="study_lease_minutes_positive"
            ),
            models.CheckConstraint(condition=Q(pairing__in=Pairing.values), name="study_pairing"),
            models.CheckConstraint(condition=Q(scale__in=Scale.values), name="study_scale"),
            models.CheckConstraint(
                condition=Q(rationale__in=RationaleMode.values), name="study_rationale"
            ),
            models.CheckConstraint(condition=Q(access__in=Access.values), name="study_access"),
            models.CheckConstraint(
                condition=Q(quota__isnull=True) | Q(quota__gte=1), name="study_quota_positive"
            ),
            models.CheckConstraint(
                condition=(Q(gold_rate__isnull=True) | Q(gold_rate__gte=0))
                & Q(repeat_rate__gte=0)
                & (Q(gold_rate__isnull=True) | Q(gold_rate__lte=1.0 - F("repeat_rate"))),
                name="study_control_rates",
            ),
            models.CheckConstraint(
                condition=Q(target_half_width__isnull=True)
                | Q(target_half_width__gt=0, target_half_width__lte=0.5),
                name="study_target_half_width",
            ),
            models.CheckConstraint(
                condition=Q(sampling__in=Sampling.values), name="study_sampling"
            ),
            models.CheckConstraint(
                condition=Q(repeat_rate__lte=1)
                & Q(qualification_pass__gte=0, qualification_pass__lte=1)
                & Q(gold_min_accuracy__gte=0, gold_min_accuracy__lte=1),
                name="study_quality_shares",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Generator(models.Model):
    """A model that produced outputs ("model" in the UI)."""

    # Indexed by generator_unique_name, which leads with study.
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="generators", db_index=False
    )
    name = models.CharField(max_length=200)
    family = models.CharField(max_length=200, blank=True, default="")
    size = models.BigIntegerField(
        null=True, blank=True, help_text="Parameter count, for size-axis plots."
    )

    class Meta:
        ordering = ["study", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="generator_unique_name"),
            # Target of composite foreign keys that keep outputs inside their study.
            models.UniqueConstraint(fields=["id", "study"], name="generator_id_study"),
            models.CheckConstraint(condition=~Q(name=""), name="generator_name_not_empty"),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gt=0), name="generator_size_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    # Indexed by prompt_unique_key, which leads with study.
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="prompts", db_index=False
    )
    key = models.CharField(max_length=200)
    # The prompt as plain text (for chat prompts, a readable rendering of the transcript).
    text = models.TextField()
    # The chat transcript [{"role", "content"}, ...] when the prompt is a message list.
    messages = models.JSONField(null=True, blank=True)
    category = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "key"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], name="prompt_unique_key"),
            models.UniqueConstraint(fields=["id", "study"], name="prompt_id_study"),
            models.CheckConstraint(condition=~Q(key=""), name="prompt_key_not_empty"),
        ]
        indexes = [models.Index(fields=["study", "category"], name="prompt_study_category")]

    def __str__(self) -> str:
        return self.key


class Output(models.Model):
    # study is stored so that composite foreign keys (added in migration 0002) can prove the
    # prompt and the generator belong to the same study. Those keys, output_prompt_in_study and
    # output_generator_in_study, also prove that the prompt, the generator and (through the
    # prompt's own key) the study exist, so the single-column keys are not created in the
    # database: each would be one more check per loaded row. The columns are NOT NULL, so the
    # composite keys always check. Indexes: output_one_per_generator leads with prompt,
    # output_generator covers generator; a study is deleted through its prompts.
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    prompt = models.ForeignKey(
        Prompt,
        on_delete=models.CASCADE,
        related_name="outputs",
        db_constraint=False,
        db_index=False,
    )
    generator = models.ForeignKey(
        Generator,
        on_delete=models.CASCADE,
        related_name="outputs",
        db_constraint=False,
        db_index=False,
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "generator"], name="output_one_per_generator"
            ),
            models.UniqueConstraint(fields=["id", "prompt"], name="output_id_prompt"),
        ]
        indexes = [models.Index(fields=["generator"], name="output_generator")]

    def __str__(self) -> str:
        return f"{self.generator_id} on {self.prompt_id}"


class Comparison(models.Model):
    """An unordered pair of outputs for one prompt.

    Canonical orientation: output_a is the candidate and output_b the baseline when one side is
    the baseline; otherwise output_a is the generator whose name sorts first.
    """

    # The composite keys of migration 0002 (comparison_prompt_in_study and
    # comparison_output_a/b_same_prompt, all on NOT NULL columns) prove that the prompt, both
    # outputs and the study exist, so the single-column keys are not created in the database.
    # Indexes: comparison_need leads with study, comparison_prompt and comparison_output_b
    # below; output_a needs none of its own (deleting an output cascades by output and prompt).
    study = models.ForeignKey(
        Study,
        on_delete=models.CASCADE,
        related_name="comparisons",
        db_constraint=False,
        db_index=False,
    )
    prompt = models.ForeignKey(
        Prompt,
        on_delete=models.CASCADE,
        related_name="comparisons",
        db_constraint=False,
        db_index=False,
    )
    output_a = models.ForeignKey(
        Output, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    output_b = models.ForeignKey(
        Output, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    # Denormalised counter kept in step by the judging service (same transaction as the
    # judgment insert): assignment orders by it and results never need to count.
    judgment_count = models.PositiveIntegerField(default=0)
    # A random number fixed at creation: in a study with a target, pairs are begun in this
    # order (uniform) or with keys drawn from it (adaptive), so that comparisons complete in a
    # random order of prompts (the anytime-valid intervals rest on it).
    shuffle = models.FloatField(db_default=Random())
    # Collection priority (services/collection.py): higher first under adaptive sampling; NULL
    # once the pair is served no more (its candidate has stopped under adaptive sampling, or
    # the study has).
    priority = models.FloatField(null=True, blank=True, db_default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(output_a=F("output_b")), name="comparison_outputs_differ"
            ),
            models.UniqueConstraint(
                Least("output_a", "output_b"),
                Greatest("output_a", "output_b"),
                name="comparison_unique_pair",
            ),
            models.UniqueConstraint(fields=["id", "study"], name="comparison_id_study"),
        ]
        indexes = [
            # Assignment: the comparisons of a study that need raters, fewest judgments first.
            models.Index(fields=["study", "judgment_count", "id"], name="comparison_need"),
            # The orders of studies with a target, the pairs closest to complete first: uniform
            # (then shuffled; read backwards) and adaptive (then by priority).
            models.Index(
                fields=["study", "judgment_count", "shuffle"], name="comparison_need_shuffled"
            ),
            models.Index(
                F("study").asc(),
                F("judgment_count").desc(),
                F("priority").desc(),
                name="comparison_priority",
            ),
            models.Index(fields=["prompt"], name="comparison_prompt"),
            models.Index(fields=["output_b"], name="comparison_output_b"),
        ]

    def __str__(self) -> str:
        return f"comparison {self.pk}"


class AssignmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Judged"
    SKIPPED = "skipped", "Skipped"


class Assignment(models.Model):
    """A lease of one comparison to one rater, with the left/right order that rater sees."""

    # assignment_comparison_in_study (migration 0002, NOT NULL columns) proves that the
    # comparison and the study exist. Indexes: assignment_one_per_rater leads with comparison,
    # assignment_rater_study with rater.
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    comparison = models.ForeignKey(
        Comparison,
        on_delete=models.CASCADE,
        related_name="assignments",
        db_constraint=False,
        db_index=False,
    )
    rater = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    left_is_a = models.BooleanField()
    status = models.CharField(
        max_length=8, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    skip_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A rater meets each comparison at most once (judged, skipped or leased).
            models.UniqueConstraint(
                fields=["comparison", "rater"], name="assignment_one_per_rater"
            ),
            # At most one open lease per rater per study: reloads and second tabs reuse it.
            models.UniqueConstraint(
                fields=["study", "rater"],
                condition=Q(status="open"),
                name="assignment_one_open_per_rater",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values), name="assignment_status"
            ),
        ]
        indexes = [
            # Live leases per comparison (the overlap check).
            models.Index(
                fields=["comparison", "expires_at"],
                condition=Q(status="open"),
                name="assignment_open_lease",
            ),
            models.Index(fields=["rater", "study", "status"], name="assignment_rater_study"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class JudgmentSource(models.TextChoices):
    WEB = "web", "Judged in the app"
    IMPORT = "import", "Imported"
    # An automatic judge's verdict: never a human judgment, never counted toward k.
    JUDGE = "judge", "Automatic judge"


class Judgment(models.Model):
    """One rater's verdict on one comparison, in canonical a/b orientation."""

    # Indexes: judgment_one_per_rater leads with comparison, judgment_rater_time with rater.
    comparison = models.ForeignKey(
        Comparison, on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    rater = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="judgments", db_index=False
    )
    # At most one judgment per assignment (judgment_one_per_assignment, a partial unique index:
    # imported judgments have no assignment and cost it nothing).
    assignment = models.ForeignKey(
        Assignment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    scale = models.CharField(max_length=16, choices=Scale.choices)
    # Positive favours output_a, negative output_b, 0 a tie; |value| is the strength.
    preference = models.SmallIntegerField()
    both_bad = models.BooleanField(default=False)
    # The order the rater saw: True when output_a was on the left.
    left_is_a = models.BooleanField()
    # Canonical orientation, like preference: {"helpful": 1, "honest": 0, ...} (criterion ->
    # preference on the study's scale, positive favours output_a).
    criteria = models.JSONField(default=dict, blank=True)
    # Per-output flags, canonical sides: {"a": ["hallucination", ...], "b": [...]}.
    flags = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(
        max_length=8, choices=JudgmentSource.choices, default=JudgmentSource.WEB
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When the rater last revised the verdict (one-level undo, services/judging.py); created_at
    # keeps the time of the first answer.
    revised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["comparison", "rater"], name="judgment_one_per_rater"),
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(assignment__isnull=False),
                name="judgment_one_per_assignment",
            ),
            models.CheckConstraint(
                condition=Q(preference__gte=-3, preference__lte=3), name="judgment_preference_range"
            ),
            # "Both are bad" is recorded as a tie for the win rate.
            models.CheckConstraint(
                condition=Q(both_bad=False) | Q(preference=0), name="judgment_both_bad_is_tie"
            ),
            models.CheckConstraint(
                condition=(
                    Q(scale__in=[Scale.BINARY, Scale.TERNARY], preference__range=(-1, 1))
                    | Q(scale=Scale.LIKERT5, preference__range=(-2, 2))
                    | Q(scale=Scale.LIKERT7)
                ),
                name="judgment_preference_fits_scale",
            ),
        ]
        indexes = [
            models.Index(fields=["rater", "created_at"], name="judgment_rater_time"),
            models.Index(fields=["created_at"], name="judgment_time"),
            # Revisions are few: the results fingerprint finds the latest one from this alone.
            models.Index(
                fields=["revised_at"],
                condition=Q(revised_at__isnull=False),
                name="judgment_revised",
            ),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk} on comparison {self.comparison_id}"

    @property
    def outcome(self) -> str:
        """'a', 'b' or 'tie' (both-bad is a tie)."""
        if self.preference > 0:
            return "a"
        if self.preference < 0:
            return "b"
        return "tie"


class Membership(models.Model):
    """A user who may judge a study whatever its access, with how they arrived and finished.

    Raters of an open study who complete it get one too (with no platform), so that the roster
    keeps their completion time.
    """

    # Indexed by membership_unique, which leads with study (the access check's probe).
    study = models.ForeignKey(
        Study, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)
    # The crowd platform and the person's ids there; blank for accounts made by hand or by
    # sign-up. Session and study ids are the latest the platform sent.
    platform = models.CharField(max_length=16, choices=Platform.choices, blank=True, default="")
    platform_id = models.CharField(max_length=100, blank=True, default="")
    platform_session_id = models.CharField(max_length=100, blank=True, default="")
    platform_study_id = models.CharField(max_length=100, blank=True, default="")
    invite = models.ForeignKey(
        "Invite", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(platform="") | Q(platform__in=Platform.values),
                name="membership_platform",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.study_id}"


class Invite(models.Model):
    """An invite link to a study: only the SHA-256 of its token is stored."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invites")
    token_hash = models.CharField(max_length=64, unique=True)
    # None: any number of uses. Counted down atomically as people join through the link.
    uses_left = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["study", "-created_at"]

    def __str__(self) -> str:
        return f"invite {self.pk} to {self.study_id}"


class ControlKind(models.TextChoices):
    GOLD = "gold", "Gold pair"
    REPEAT = "repeat", "Swapped repeat"


class GoldItem(models.Model):
    """A pair with a known answer: two loaded outputs of one of the study's prompts, or an
    attention check with a prompt and outputs of its own (not part of the study's data).

    The texts are stored on the item in both shapes, so that serving one reads one row; the
    prompt and outputs are kept for the first shape (deleting them deletes the item).
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="gold_items")
    key = models.CharField(max_length=200)
    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    better_output = models.ForeignKey(
        Output, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    worse_output = models.ForeignKey(
        Output, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    prompt_text = models.TextField()
    messages = models.JSONField(null=True, blank=True)
    better_text = models.TextField()
    worse_text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["study", "key"]
        constraints = [
            # An attention check is known by its key; a pair of loaded outputs by the pair
            # (several pairs of one prompt share the prompt's key).
            models.UniqueConstraint(
                fields=["study", "key"], condition=Q(prompt__isnull=True), name="gold_unique_key"
            ),
            models.UniqueConstraint(
                fields=["prompt", "better_output", "worse_output"],
                condition=Q(prompt__isnull=False),
                name="gold_unique_pair",
            ),
            models.CheckConstraint(condition=~Q(key=""), name="gold_key_not_empty"),
            models.CheckConstraint(
                condition=Q(prompt__isnull=True)
                | (Q(better_output__isnull=False) & Q(worse_output__isnull=False)),
                name="gold_pair_outputs",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class ControlCheck(models.Model):
    """A control item served to one rater (a gold pair or a swapped repeat) and their answer.

    Never a Judgment: results, exports, training pairs and the overlap k read judgments only,
    so control answers cannot leak into the data. The id is drawn from the assignments'
    sequence, so the rater API addresses both alike and ids give nothing away. Orientation:
    for gold, output "a" is the better one; for a repeat, the repeated comparison's a/b.
    """

    id = models.BigIntegerField(primary_key=True)
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="+")
    rater = models.ForeignKey(User, on_delete=models.CASCADE, related_name="control_checks")
    kind = models.CharField(max_length=8, choices=ControlKind.choices)
    gold = models.ForeignKey(
        GoldItem, on_delete=models.CASCADE, null=True, blank=True, related_name="checks"
    )
    repeat_of = models.ForeignKey(
        Judgment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The qualification attempt (1 or 2) this gold item was served in; None outside screening.
    qualification = models.PositiveSmallIntegerField(null=True, blank=True)
    left_is_a = models.BooleanField()
    status = models.CharField(
        max_length=8, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The answer, canonical like Judgment.preference (positive favours "a").
    preference = models.SmallIntegerField(null=True, blank=True)
    both_bad = models.BooleanField(default=False)
    criteria = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=dict, blank=True)
    rationale = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    revised_at = models.DateTimeField(null=True, blank=True)
    # Gold: the better output chosen. Repeat: the same canonical answer (a, b or tie) as the
    # repeated judgment. None until answered.
    correct = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ControlKind.values), name="control_kind_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind="gold") & Q(gold__isnull=False) & Q(repeat_of__isnull=True))
                | (Q(kind="repeat") & Q(repeat_of__isnull=False) & Q(gold__isnull=True)),
                name="control_kind_target",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values), name="control_status"
            ),
            # Each rater meets a gold item at most once, and repeats a judgment at most once.
            models.UniqueConstraint(
                fields=["gold", "rater"],
                condition=Q(gold__isnull=False),
                name="control_gold_once_per_rater",
            ),
            models.UniqueConstraint(
                fields=["repeat_of"],
                condition=Q(repeat_of__isnull=False),
                name="control_repeat_once",
            ),
            models.UniqueConstraint(
                fields=["study", "rater"],
                condition=Q(status="open"),
                name="control_one_open_per_rater",
            ),
        ]
        indexes = [models.Index(fields=["rater", "study", "status"], name="control_rater_study")]

    def __str__(self) -> str:
        return f"control check {self.pk} ({self.kind}, {self.status})"


class Qualification(models.TextChoices):
    NONE = "", "Not screened"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Screened out"


class RaterStanding(models.Model):
    """Where a rater stands in a study: screening, pause, exclusion (current state).

    A rater with no row is in good standing. Paused, excluded and screened-out raters get no
    more items; an excluded rater's judgments drop out of results, exports and the overlap k.
    Every change is also written to RaterEvent (who, when, why).
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="standings")
    rater = models.ForeignKey(User, on_delete=models.CASCADE, related_name="standings")
    qualification = models.CharField(
        max_length=8, choices=Qualification.choices, blank=True, default=""
    )
    qualification_attempt = models.PositiveSmallIntegerField(default=1)
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True, default="")
    excluded = models.BooleanField(default=False)
    excluded_reason = models.TextField(blank=True, default="")
    excluded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    excluded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "rater"], name="standing_unique"),
            models.CheckConstraint(
                condition=Q(qualification__in=Qualification.values), name="standing_qualification"
            ),
        ]
        indexes = [
            models.Index(fields=["study"], condition=Q(excluded=True), name="standing_excluded")
        ]

    def __str__(self) -> str:
        return f"standing of {self.rater_id} in {self.study_id}"


class RaterAction(models.TextChoices):
    PAUSE = "pause", "Paused"
    RESUME = "resume", "Resumed"
    EXCLUDE = "exclude", "Excluded"
    INCLUDE = "include", "Included again"
    QUALIFY = "qualify", "Passed the qualification"
    SCREEN_OUT = "screen_out", "Screened out"
    RETRY = "retry", "Started a second qualification attempt"


class RaterEvent(models.Model):
    """One recorded action on a rater in a study: who, when, why."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="rater_events")
    rater = models.ForeignKey(User, on_delete=models.CASCADE, related_name="rater_events")
    action = models.CharField(max_length=16, choices=RaterAction.choices)
    reason = models.TextField(blank=True, default="")
    by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Who, as text that outlives the account: a username, "command line" or "automatic".
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["study", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=RaterAction.values), name="rater_event_action"
            )
        ]
        indexes = [models.Index(fields=["study", "rater", "at"], name="rater_event_rater")]

    def __str__(self) -> str:
        return f"{self.action} of {self.rater_id} in {self.study_id}"
