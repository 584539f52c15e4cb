"""Helpers shared by the test suite: processes, ports and sandbox constants."""
