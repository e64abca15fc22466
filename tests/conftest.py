"""Shared pytest fixtures: users of each role, studies made through the project's services."""

from __future__ import annotations
