"""The read routes as they were computed on read before the v4 aggregates (issue 11): every figure from
the agent's own runs, signals and events of the window. Kept verbatim as the reference the aggregate
reads are held to (tests/local/test_aggregate_reads.py); not used by the package."""
