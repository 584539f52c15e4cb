"""Scheduled reconciliation: both directories read in full, drift classified, safe drift fixed, the rest proposed."""
