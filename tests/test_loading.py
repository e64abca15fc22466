"""Loading prompt sets: both JSONL shapes, CSV, chat prompts, pairing rules, reloads, bad input."""

from __future__ import annotations

import pytest

from annotations.models import Comparison, Generator, Output, Prompt
from annotations.services.loading import LoadError, common, derive_key, prompt_set_load, reading
from tests.loading_support import BASELINE, NESTED, counts, jsonl, load, make_study, problems, write

pytestmark = pytest.mark.django_db


def _pairs(study) -> set[tuple[str, str, str]]:
    return {
        (c.prompt.key, c.output_a.generator.name, c.output_b.generator.name)
        for c in Comparison.objects.filter(study=study).select_related(
            "prompt", "output_a__generator", "output_b__generator"
        )
    }


def test_nested_jsonl_creates_prompts_outputs_and_comparisons_against_the_baseline(tmp_path):
    study = make_study()
    summary = load(study, tmp_path, jsonl(*NESTED))
    assert (summary.prompts, summary.outputs, summary.comparisons) == (2, 6, 4)
    assert (summary.generators, summary.generators_existing) == (3, 1)
    assert str(summary) == (
        "Loaded set.jsonl into 'load': 2 prompts (0 already there), 3 models (1 already there), "
        "6 outputs (0 already there), 4 comparisons (0 already there)."
    )
    prompt = Prompt.objects.get(study=study, key="haiku")
    assert (prompt.text, prompt.category, prompt.messages) == (NESTED[0]["prompt"], "poetry", None)
    assert (
        Output.objects.get(prompt=prompt, generator__name="GPT 4").text == "Pods drift like leaves"
    )
    # Canonical orientation: the candidate is output_a, the baseline output_b.
    assert _pairs(study) == {
        (key, model, BASELINE) for key in ("haiku", "sum") for model in ("GPT 4", "Alpaca")
    }
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {0}


def test_flat_lines_with_alpacaeval_names_mix_with_nested_lines(tmp_path):
    study = make_study()
    content = jsonl(
        NESTED[0],
        {"key": "sum", "instruction": "What is 2 + 2?", "model": "GPT 4", "output": "4"},
        {"key": "sum", "prompt": "What is 2 + 2?", "generator": BASELINE, "output": "Four."},
    )
    summary = load(study, tmp_path, content)
    assert (summary.prompts, summary.outputs, summary.comparisons) == (2, 5, 3)
    assert ("sum", "GPT 4", BASELINE) in _pairs(study)


def test_chat_prompt_is_stored_as_messages_with_readable_text_and_a_derived_key(tmp_path):
    study = make_study()
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Capital of France?"},
    ]
    load(study, tmp_path, jsonl({"prompt": messages, "outputs": {"GPT 4": "Paris", BASELINE: "P"}}))
    prompt = Prompt.objects.get(study=study)
    assert prompt.messages == messages
    assert prompt.text == "System: Answer briefly.\n\nUser: Capital of France?"
    assert prompt.key == derive_key(prompt.text, messages)
    assert prompt.key.startswith("p-") and len(prompt.key) == 14


def test_derived_key_is_stable_so_a_keyless_file_reloads_cleanly(tmp_path):
    study = make_study()
    content = jsonl({"prompt": "  Tell a joke.\r\n", "generator": "GPT 4", "output": "Knock knock"})
    load(study, tmp_path, content)
    again = load(study, tmp_path, content)
    assert (again.prompts_existing, again.outputs_existing) == (1, 1)
    assert Prompt.objects.get(study=study).key == derive_key("Tell a joke.")


def test_csv_with_optional_category_and_empty_key(tmp_path):
    study = make_study()
    content = (
        "key,prompt,generator,output,category\n"
        'k1,"Say hi",GPT 4,"Hello,\nworld",greeting\n'
        f"k1,Say hi,{BASELINE},hi,greeting\n"
        f",Keyless prompt,{BASELINE},text,\n"
    )
    summary = load(study, tmp_path, content, name="set.csv")
    assert (summary.prompts, summary.outputs, summary.comparisons) == (2, 3, 1)
    assert Output.objects.get(generator__name="GPT 4").text == "Hello,\nworld"
    assert Prompt.objects.get(key="k1").category == "greeting"
    assert Prompt.objects.filter(key=derive_key("Keyless prompt")).exists()


def test_csv_error_names_the_physical_line_after_a_multiline_record(tmp_path):
    study = make_study()
    content = 'key,prompt,generator,output\nk1,"two\nlines",GPT 4,x\nk2, ,GPT 4,y\n'
    assert problems(load, study, tmp_path, content, "set.csv") == [(4, "prompt", "is empty")]


def test_all_pairs_orients_by_name_and_keeps_the_baseline_as_b(tmp_path):
    study = make_study(pairing="all_pairs")
    summary = load(study, tmp_path, jsonl(*NESTED))
    assert summary.comparisons == 6
    assert _pairs(study) == {
        (key, a, b)
        for key in ("haiku", "sum")
        for a, b in (("Alpaca", "GPT 4"), ("Alpaca", BASELINE), ("GPT 4", BASELINE))
    }


def test_loading_the_same_file_twice_changes_nothing(tmp_path):
    study = make_study()
    load(study, tmp_path, jsonl(*NESTED))
    before = counts(study)
    again = load(study, tmp_path, jsonl(*NESTED))
    assert counts(study) == before
    assert (again.prompts_added, again.outputs_added, again.comparisons_added) == (0, 0, 0)
    assert "2 prompts (2 already there)" in str(again)
    assert "4 comparisons (4 already there)" in str(again)


def test_a_new_models_outputs_are_added_with_their_comparisons(tmp_path):
    study = make_study()
    load(study, tmp_path, jsonl(*NESTED))
    later = jsonl({"key": "haiku", "prompt": NESTED[0]["prompt"], "model": "Claude", "output": "c"})
    summary = load(study, tmp_path, later, name="claude.jsonl")
    assert (summary.prompts_existing, summary.outputs_added, summary.comparisons_added) == (1, 1, 1)
    assert ("haiku", "Claude", BASELINE) in _pairs(study)
    assert Comparison.objects.filter(study=study).count() == 5


def test_a_baseline_output_loaded_later_creates_the_earlier_outputs_comparisons(tmp_path):
    study = make_study()
    record = {"key": "q", "prompt": "Q?", "outputs": {"GPT 4": "a", "Alpaca": "b"}}
    assert load(study, tmp_path, jsonl(record)).comparisons == 0
    summary = load(
        study, tmp_path, jsonl({"key": "q", "prompt": "Q?", "model": BASELINE, "output": "c"})
    )
    assert summary.comparisons_added == 2
    assert _pairs(study) == {("q", "GPT 4", BASELINE), ("q", "Alpaca", BASELINE)}


def test_model_metadata_lines_set_family_and_size(tmp_path):
    study = make_study()
    load(
        study,
        tmp_path,
        jsonl(NESTED[0], {"generator": "GPT 4", "family": "GPT", "size": 1.75e11}),
    )
    assert Generator.objects.filter(study=study, name="GPT 4").values_list(
        "family", "size"
    ).get() == ("GPT", 175_000_000_000)


def test_same_output_twice_with_the_same_text_is_fine(tmp_path):
    study = make_study()
    line = {"key": "k", "prompt": "P", "generator": "GPT 4", "output": "same"}
    assert load(study, tmp_path, jsonl(line, line)).outputs == 1


def test_empty_and_whitespace_outputs_are_kept_verbatim(tmp_path):
    # Some models answer nothing, or a bare newline; raters judged those answers (LLMFAO).
    study = make_study()
    content = jsonl(
        {"key": "k", "prompt": "p", "outputs": {"GPT 4": "\n", "Empty": "", BASELINE: "  x"}}
    )
    summary = load(study, tmp_path, content)
    assert (summary.outputs, summary.comparisons) == (3, 2)
    assert Output.objects.get(generator__name="GPT 4").text == "\n"
    assert Output.objects.get(generator__name="Empty").text == ""


def test_a_pipe_or_upload_without_a_path_loads_too(tmp_path):
    study = make_study()
    with open(write(tmp_path, "x.bin", jsonl(*NESTED)), "rb") as handle:
        summary = prompt_set_load(study=study, file=handle, filename="from-upload")
    assert summary.outputs == 6 and summary.filename == "from-upload"


# Each bad input: file content, name, then the expected (line, field, part of the message).
BAD_INPUT = {
    "not JSON": ('{"key": "a", "prompt": "p"}\n{"key": oops}\n', "x.jsonl", (2, "", "not JSON")),
    "not UTF-8": (b'{"key": "a", "prompt": "caf\xe9"}\n', "x.jsonl", (1, "", "not UTF-8")),
    "missing prompt": (
        jsonl({"key": "a", "generator": "G", "output": "o"}),
        "x.jsonl",
        (1, "prompt", "is missing"),
    ),
    "empty prompt": (jsonl({"key": "a", "prompt": "  "}), "x.jsonl", (1, "prompt", "is empty")),
    "null output": (
        jsonl({"key": "a", "prompt": "p", "model": "G", "output": None}),
        "x.jsonl",
        (1, "output", "must be a string, not null"),
    ),
    "missing output": (
        jsonl({"key": "a", "prompt": "p", "model": "G"}),
        "x.jsonl",
        (1, "output", "is missing"),
    ),
    "output is a number": (
        jsonl({"prompt": "p", "outputs": {"G": 42}}),
        "x.jsonl",
        (1, "outputs.G", "must be a string, not a number"),
    ),
    "prompt is a dict": (
        jsonl({"prompt": {"text": "p"}}),
        "x.jsonl",
        (1, "prompt", "not an object"),
    ),
    "message without role": (
        jsonl({"prompt": [{"content": "hi"}]}),
        "x.jsonl",
        (1, "prompt[0].role", "is missing"),
    ),
    "message without content": (
        jsonl({"prompt": [{"role": "user"}]}),
        "x.jsonl",
        (1, "prompt[0].content", "is missing"),
    ),
    "key is a list": (
        jsonl({"key": ["a"], "prompt": "p"}),
        "x.jsonl",
        (1, "key", "must be a string, not a list"),
    ),
    "outputs not an object": (
        jsonl({"prompt": "p", "outputs": ["x"]}),
        "x.jsonl",
        (1, "outputs", "must be an object"),
    ),
    "output without model": (
        jsonl({"prompt": "p", "output": "o"}),
        "x.jsonl",
        (1, "generator", "is missing"),
    ),
    "not an object": ("[1, 2]\n", "x.txt", (1, "", "JSON array is not supported")),
    "key too long": (
        jsonl({"key": "k" * 201, "prompt": "p"}),
        "x.jsonl",
        (1, "key", "longer than 200"),
    ),
    "NUL in output": (
        jsonl({"prompt": "p", "outputs": {"G": "a\u0000b"}}),
        "x.jsonl",
        (1, "outputs.G", "NUL"),
    ),
    "bad size": (jsonl({"generator": "G", "size": -5}), "x.jsonl", (1, "size", "positive")),
    "key text differs in file": (
        jsonl({"key": "a", "prompt": "one"}, {"key": "a", "prompt": "two"}),
        "x.jsonl",
        (2, "prompt", "prompt key 'a' has a different text in line 1"),
    ),
    "output differs in file": (
        jsonl(
            {"key": "a", "prompt": "p", "model": "G", "output": "x"},
            {"key": "a", "prompt": "p", "model": "G", "output": "y"},
        ),
        "x.jsonl",
        (2, "output", "model 'G' has a different output for prompt 'a' in line 1"),
    ),
    "category differs in file": (
        jsonl(
            {"key": "a", "prompt": "p", "category": "x"},
            {"key": "a", "prompt": "p", "category": "y"},
        ),
        "x.jsonl",
        (2, "category", "has 'x' in line 1"),
    ),
    "csv missing column": (
        "key,prompt,generator\nk,p,G\n",
        "x.csv",
        (1, "output", "no 'output' column"),
    ),
    "csv wrong width": (
        "key,prompt,generator,output\nk,p,G,o,extra\n",
        "x.csv",
        (2, "", "has 5 fields"),
    ),
    "csv unclosed quote": (
        'key,prompt,generator,output\nk,"p,G,o\n',
        "x.csv",
        (2, "", "not valid CSV"),
    ),
    "empty file": ("\n\n", "x.jsonl", (None, "", "the file is empty")),
    "empty csv": ("", "x.csv", (None, "", "the file is empty")),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_reported_with_line_and_field_and_nothing_is_written(tmp_path, case):
    content, name, (line, field, message) = BAD_INPUT[case]
    study = make_study()
    # A valid record after the bad one proves that nothing at all is written.
    if name.endswith(".jsonl") and line is not None:
        good = jsonl(NESTED[1])
        content = content + (good.encode() if isinstance(content, bytes) else good)
    found = problems(load, study, tmp_path, content, name)
    assert any((n, f) == (line, field) and message in m for n, f, m in found), f"{case}: {found}"
    assert counts(study) == (0, 0, 0, 0)
    assert Generator.objects.filter(study=study).count() == 1


def test_stored_prompt_text_and_output_text_must_match(tmp_path):
    study = make_study()
    load(study, tmp_path, jsonl(*NESTED))
    changed = dict(NESTED[0], prompt="Another text", outputs={"GPT 4": "changed"})
    found = problems(load, study, tmp_path, jsonl(changed))
    assert (1, "prompt", "prompt key 'haiku' has a different text in what is stored") in found
    assert (
        1,
        "outputs.GPT 4",
        "model 'GPT 4' has a different output for prompt 'haiku' in what is stored",
    ) in found
    chat = jsonl(dict(NESTED[1], prompt=[{"role": "user", "content": "What is 2 + 2?"}]))
    assert problems(load, study, tmp_path, chat)[0][:2] == (1, "prompt")


def test_a_chat_prompt_reloads_without_a_false_difference(tmp_path):
    study = make_study()
    record = {
        "key": "c",
        "prompt": [{"role": "user", "content": "Hi"}],
        "model": "G",
        "output": "o",
    }
    load(study, tmp_path, jsonl(record))
    assert load(study, tmp_path, jsonl(record)).prompts_existing == 1


def test_only_the_first_fifty_problems_are_listed_then_a_count(tmp_path):
    study = make_study()
    with pytest.raises(LoadError) as info:
        load(study, tmp_path, "not json\n" * 60)
    error = info.value
    assert (len(error.errors), error.total, error.more) == (50, 60, 10)
    assert [p.line for p in error.errors] == list(range(1, 51))
    assert error.render().endswith("... and 10 more problems")


def test_oversized_output_and_line_are_refused(tmp_path, monkeypatch):
    study = make_study()
    too_long = "x" * (common.MAX_TEXT_CHARS + 1)
    found = problems(load, study, tmp_path, jsonl({"prompt": "p", "outputs": {"G": too_long}}))
    assert found == [(1, "outputs.G", "is longer than 1,000,000 characters (1,000,001)")]
    monkeypatch.setattr(reading, "MAX_LINE_BYTES", 100)
    found = problems(load, study, tmp_path, jsonl({"prompt": "p" * 200}, NESTED[0]))
    assert found[0][:2] == (1, "")
    assert "line longer than" in found[0][2]
