"""Tests of the local vendor emulators."""
