"""Shared helpers of the test suite and the benchmarks: real components, synthetic truth, app worlds.

Test modules import from here (``tests.helpers.*``), never from one another."""
