"""Fault tests with real processes: a leader killed inside its claim, a leader frozen past its
lease, a worker killed in the middle of a job, and the host clock jumping. Short here; at full
length through benchmarks/kills.py (docs/guarantees.md#tested)."""
