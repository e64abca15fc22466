"""The dpo and hh-rlhf writers: one preference pair per comparison with a majority verdict.

`dpo` is TRL's preference format ({"prompt", "chosen", "rejected"}; when the study has chat
prompts, the conversational form: "prompt" is the message list and chosen/rejected are
[{"role": "assistant", "content": ...}], plain prompts becoming one user message so the column
keeps one type); `hh-rlhf` is Anthropic's transcript format
({"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}). Both add metadata under
`meta_`-prefixed keys (meta_prompt_key, meta_chosen_generator, meta_rejected_generator,
meta_votes), which no trainer reads as data.

How many comparisons were kept and dropped, and why (see comparison_verdict), is in
Export.summary, computed before the first byte streams; the command prints it to stderr (and a
`<file>.summary.json` sidecar) and the API sends it as X-Export-* headers. The data file holds
records only, so `datasets.load_dataset("json", ...)` reads it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

import orjson

from annotations.exports import registry
from annotations.exports.judgments import JSONL_CONTENT_TYPE
from annotations.exports.registry import (
    Export,
    ExportFormat,
    export_filename,
    export_format_register,
)
from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter
from annotations.selectors.votes import (
    Votes,
    comparison_vote_patterns,
    comparison_vote_rows_stream,
    study_has_chat_prompts,
)

VERDICT_KEPT = ("a", "b")
DROP_REASONS = ("tie", "split", "both_bad")


def comparison_verdict(*, votes: Votes) -> str:
    """The majority verdict of one comparison: "a" or "b" (kept), or why it is dropped.

    Over the n judgments of the comparison (after the export's filters), with A and B the
    judgments preferring output a / output b, T the ties and X the "both are bad" answers
    (n = A + B + T + X):

    - "a" when A > n/2, "b" when B > n/2: a strict majority of all judgments, ties included,
      prefers that side (2-1 is kept; 2-1-1 over four judgments is not);
    - "both_bad" when X > n/2;
    - "tie" when T + X > n/2 (ties, counting both-bad as ties, form the majority, including
      all-tie comparisons);
    - "split" otherwise: no strict majority for either side nor for ties (1-1, 1-1-1).
    """
    n = votes.total
    if 2 * votes.a > n:
        return "a"
    if 2 * votes.b > n:
        return "b"
    if 2 * votes.both_bad > n:
        return "both_bad"
    if 2 * (votes.tie + votes.both_bad) > n:
        return "tie"
    return "split"


def training_pair_summary(
    *, patterns: Iterable[tuple[Votes, int]], study: Study, export_format: str
) -> dict[str, Any]:
    """Kept and dropped comparison counts from vote patterns (Votes -> number of comparisons)."""
    dropped = dict.fromkeys(DROP_REASONS, 0)
    kept = total = 0
    for votes, count in patterns:
        total += count
        verdict = comparison_verdict(votes=votes)
        if verdict in VERDICT_KEPT:
            kept += count
        else:
            dropped[verdict] += count
    return {
        "study": study.slug,
        "format": export_format,
        "comparisons": total,
        "kept": kept,
        "dropped": dropped,
        "rule": "kept when a strict majority of a comparison's judgments prefers one output; "
        "dropped as both_bad when most answered both-bad, as tie when ties (both-bad "
        "included) are the majority, as split when nothing has a strict majority",
    }


def _hh_transcript(prompt: str, messages_json: str | None) -> str:
    """A prompt as Anthropic HH-RLHF turns.

    A chat prompt is rendered turn by turn: assistant messages as "Assistant:", every other
    role as "Human:". System messages before the first turn become a preamble ahead of the
    first "\\n\\nHuman:", where Anthropic's text-completion prompts put a system prompt; a
    system message later on is shown as a Human turn.
    """
    if messages_json is None:
        return "\n\nHuman: " + prompt
    messages = orjson.loads(messages_json)
    preamble: list[str] = []
    turns: list[str] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        content = content if isinstance(content, str) else orjson.dumps(content).decode()
        if role == "system" and not turns:
            preamble.append(content)
            continue
        label = "Assistant" if role == "assistant" else "Human"
        turns.append(f"\n\n{label}: {content}")
    return "\n\n".join(preamble) + "".join(turns)


def _training_pair_chunks(
    *, study: Study, filters: JudgmentFilter, hh: bool, conversational: bool
) -> Iterator[bytes]:
    dumps = orjson.dumps
    pending: list[bytes] = []
    size = 0
    for batch in comparison_vote_rows_stream(study=study, filters=filters):
        for (
            _comparison_id,
            key,
            prompt,
            messages,
            generator_a,
            generator_b,
            output_a,
            output_b,
            a,
            b,
            tie,
            both_bad,
        ) in batch:
            votes = Votes(a, b, tie, both_bad)
            verdict = comparison_verdict(votes=votes)
            if verdict not in VERDICT_KEPT:
                continue
            if verdict == "a":
                chosen, rejected, chosen_votes, rejected_votes = output_a, output_b, a, b
                chosen_by, rejected_by = generator_a, generator_b
            else:
                chosen, rejected, chosen_votes, rejected_votes = output_b, output_a, b, a
                chosen_by, rejected_by = generator_b, generator_a
            if hh:
                transcript = _hh_transcript(prompt, messages)
                record: dict[str, Any] = {
                    "chosen": f"{transcript}\n\nAssistant: {chosen}",
                    "rejected": f"{transcript}\n\nAssistant: {rejected}",
                }
            elif conversational:
                record = {
                    "prompt": orjson.Fragment(messages)
                    if messages is not None
                    else [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            else:
                record = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            record["meta_prompt_key"] = key
            record["meta_chosen_generator"] = chosen_by
            record["meta_rejected_generator"] = rejected_by
            record["meta_votes"] = {
                "chosen": chosen_votes,
                "rejected": rejected_votes,
                "tie": tie,
                "both_bad": both_bad,
            }
            line = dumps(record, option=orjson.OPT_APPEND_NEWLINE)
            pending.append(line)
            size += len(line)
            if size >= registry.CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _open_training_pairs(
    *, study: Study, filters: JudgmentFilter, export_format: ExportFormat, hh: bool
) -> Export:
    patterns, max_id = comparison_vote_patterns(study=study, filters=filters)
    summary = training_pair_summary(
        patterns=patterns, study=study, export_format=export_format.name
    )
    if filters.described:
        summary["filters"] = filters.described
    if max_id is None:
        chunks: Iterator[bytes] = iter(())
    else:
        chunks = _training_pair_chunks(
            study=study,
            filters=replace(filters, max_judgment_id=max_id),
            hh=hh,
            conversational=not hh and study_has_chat_prompts(study=study),
        )
    stem = "hh-rlhf" if hh else "dpo"
    return Export(
        format=export_format,
        filename=export_filename(study=study, stem=stem, export_format=export_format),
        chunks=chunks,
        summary=summary,
    )


TRAINING_FORMATS = (
    ExportFormat(
        name="dpo",
        extension="jsonl",
        content_type=JSONL_CONTENT_TYPE,
        description="Majority-vote preference pairs in TRL's prompt/chosen/rejected format",
        open=partial(_open_training_pairs, hh=False),
    ),
    ExportFormat(
        name="hh-rlhf",
        extension="jsonl",
        content_type=JSONL_CONTENT_TYPE,
        description="Majority-vote preference pairs as Anthropic HH-RLHF transcripts",
        open=partial(_open_training_pairs, hh=True),
    ),
)

for _format in TRAINING_FORMATS:
    export_format_register(_format)
