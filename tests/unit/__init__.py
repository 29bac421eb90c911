"""Tests of the pure packages against synthetic truth and real data, in process."""
