"""Convert the LLMFAO crowd data (github.com/dustalov/llmfao) into this project's load formats.

Usage: python demo/convert_llmfao.py SOURCE_DIR [OUTPUT_DIR]

SOURCE_DIR holds prompts.jsonl, results.jsonl and crowd-comparisons.csv from the LLMFAO
repository. Writes prompts.jsonl (nested prompt-set format, the 13 prompts the crowd judged,
with every model's output for them) and judgments.csv (one row per crowd judgment).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path


def convert(source: Path, output: Path) -> tuple[int, int, int]:
    prompts = {p["id"]: p for p in map(json.loads, (source / "prompts.jsonl").open())}
    with (source / "crowd-comparisons.csv").open(newline="", encoding="utf-8") as handle:
        judgments = list(csv.DictReader(handle))
    judged_prompts = sorted({int(row["prompt"]) for row in judgments})

    outputs: dict[int, dict[str, str]] = defaultdict(dict)
    for result in map(json.loads, (source / "results.jsonl").open()):
        if result["prompt"] in judged_prompts:
            # Outputs are kept verbatim: some models answered with only whitespace, and the crowd
            # judged those answers too.
            outputs[result["prompt"]][result["name"]] = result["result"]

    output.mkdir(parents=True, exist_ok=True)
    n_outputs = 0
    with (output / "prompts.jsonl").open("w", encoding="utf-8") as handle:
        for prompt_id in judged_prompts:
            prompt = prompts[prompt_id]
            record = {
                "key": prompt["slug"],
                "prompt": prompt["text"],
                "category": prompt["type"],
                "outputs": dict(sorted(outputs[prompt_id].items())),
            }
            n_outputs += len(record["outputs"])
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    with (output / "judgments.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "left", "right", "winner", "rater"])
        for row in judgments:
            writer.writerow(
                [
                    prompts[int(row["prompt"])]["slug"],
                    row["left"],
                    row["right"],
                    row["winner"],
                    f"llmfao-{row['worker']}",
                ]
            )
    return len(judged_prompts), n_outputs, len(judgments)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    dst = Path(sys.argv[2]) if len(sys.argv) == 3 else Path(__file__).parent / "llmfao"
    n_prompts, n_outputs, n_judgments = convert(src, dst)
    print(f"Wrote {n_prompts} prompts, {n_outputs} outputs, {n_judgments} judgments to {dst}")
