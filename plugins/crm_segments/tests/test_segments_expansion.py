"""Issue 16, item 11: a segments file where each level refers ten times to
the one below ("billion laughs") is refused in one line, fast, instead of
expanding exponentially; a deep but honest chain still works."""

import time

import pytest

import crm_segments
from crm_segments.segments import create_segment, load, refresh
from crmcore import CRMError
from crmcore.entities import Contact


@pytest.fixture
def crm(make_crm):
    crm = make_crm(plugins=[crm_segments])
    crm.add_many([Contact(email=f"p{i}@example.com", country="DE" if i % 2 else "FR") for i in range(10)])
    return crm


def laughs(levels, fanout=10):
    lines = ["segments:", "  - name: l0", "    rule: 'country == \"DE\"'"]
    for n in range(1, levels + 1):
        rule = " or ".join([f'segment("l{n - 1}")'] * fanout)
        lines += [f"  - name: l{n}", f"    rule: '{rule}'"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [5, 9])
def test_billion_laughs_file_is_refused_in_one_line_and_fast(crm, write_file, levels):
    path = write_file("laughs.yaml", laughs(levels))
    started = time.monotonic()
    with pytest.raises(CRMError) as err:
        load(crm, path)
    # expanded, level 9 is 10**9 conditions (hours); refused early it is milliseconds. The bound is
    # generous so that a loaded shared machine cannot fail it (it failed at 5 s under load).
    assert time.monotonic() - started < 60
    message = str(err.value)
    assert "\n" not in message and "segment 6 (l5)" in message and "more than 10,000 conditions" in message
    assert crm.store.count("segments") == 0  # all or nothing


def test_a_segment_referring_to_one_many_times_still_works_when_small(crm, write_file):
    load(crm, write_file("ok.yaml", laughs(2, fanout=3)))  # 9 copies of l0's condition
    refresh(crm, ["l2"])
    assert crm.store.query_value("SELECT count(*) FROM segment_members m JOIN segments s ON s.id = m.segment_id "
                                 "WHERE s.name = 'l2'") == 5


def test_creating_one_exploding_segment_is_refused(crm):
    create_segment(crm, "a", rule='country == "DE"')
    for n, below in zip("bcdef", "abcde"):
        rule = " or ".join([f'segment("{below}")'] * 10)
        if n == "f":  # 100,000 conditions
            with pytest.raises(CRMError, match="more than"):
                create_segment(crm, n, rule=rule)
        else:
            create_segment(crm, n, rule=rule)
