"""Blueprints, one per caller."""
