"""Hostile and careless input: fuzzed traces, injected names, secrets, signals, damaged state (issue 17)."""
