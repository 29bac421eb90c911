"""The bounded JSON decoder of HTTP bodies and Socket.IO packets (``common.jsonsafe``)."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import jsonsafe


@pytest.mark.parametrize("text, needle", [
    ("NaN", "NaN"), ("[Infinity]", "Infinity"), ('{"a": -Infinity}', "Infinity"), ("1e999", "too large"),
    ("-1e400", "too large"), ("9" * 41, "41 characters"), ('{"n": ' + "1" * 5000 + "}", "5000 characters"),
    ("0." + "1" * 60, "characters"), ("[" * 33 + "]" * 33, "nested too deeply"),
    ('{"a":' * 40 + "1" + "}" * 40, "nested too deeply"), ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_refused_with_the_reason(text, needle):
    with pytest.raises(ValueError, match=needle):
        jsonsafe.loads(text)


def test_broken_json_is_a_value_error_too():
    for text in ("{", "{'a': 1}", "[1,]", "", "\x00"):
        with pytest.raises(json.JSONDecodeError):
            jsonsafe.loads(text)


def test_limits_are_the_documented_ones():
    assert jsonsafe.loads("[" * 32 + "]" * 32) is not None
    assert jsonsafe.loads(str(2**63)) == 2**63 and jsonsafe.loads("1e308") == 1e308
    assert jsonsafe.loads("[1, 2.5, true, null, \"x\"]", max_depth=1) == [1, 2.5, True, None, "x"]


VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.text(max_size=20),
                                st.floats(allow_nan=False, allow_infinity=False)),
                      lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids,
                                                                                        max_size=4)),
                      max_leaves=20)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=VALUES)
def test_what_json_writes_within_bounds_reads_back_the_same(value):
    assert jsonsafe.loads(json.dumps(value)) == value
