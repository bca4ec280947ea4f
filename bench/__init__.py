"""Benchmarks: each module prints its figures; none of them is a test.

Run one with `.venv/bin/python -m bench.<name>`, or all with `make bench` (`python -m bench`).
"""
