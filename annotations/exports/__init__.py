"""Study exports: a registry of formats, each a streaming writer of byte chunks.

Modules: `registry` (Export, ExportFormat, export_format_register, export_open, the file name
rule), `spreadsheet` (the CSV formula guard), and one writer module per format family:
`judgments` (judgments-csv, judgments-jsonl), `training` (dpo, hh-rlhf) and `results`
(results-csv, results-json, figure-*). The judgment and training-pair formats register when the
registry is first imported; the results formats when the app is ready (AnnotationsConfig), so
that the statistics stack loads only when results are asked for.

Adding a format: build an ExportFormat whose `open(study=..., filters=..., export_format=...)`
returns an Export, and pass it to export_format_register; the command, the API and the download
buttons pick it up.
"""
