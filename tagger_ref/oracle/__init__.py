"""Checking implementations: traces, the compare tool, golden cases, gradient checks, identities."""
