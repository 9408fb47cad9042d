"""Reporters: Rich tables for people, JSON for scripts (imported only by the CLI)."""
