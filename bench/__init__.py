"""Benchmarks of the Entra Companion against the local sandbox (run as scripts)."""
