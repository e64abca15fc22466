"""The rater API: DRF views, their fast lane, and what both answer (answers.py)."""
