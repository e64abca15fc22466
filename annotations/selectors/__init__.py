"""Reads that turn the database into plain rows for statistics, pages and exports."""
