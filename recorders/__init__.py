"""Code that runs on the GPU box: `inferscope record` (recorder), the nsys wrapper and the Python samplers.

Everything here imports only the standard library (redaction included: `recorders.redact`, which
`inferscope.redact` re-exports), so recording needs neither DuckDB
nor pyarrow nor pandas, and the agent loaded into the workload's Python processes stays cheap.
"""
