"""Golden tests for GB 3838-2002 surface-water classes, from shared/facts/water-quality.md.

The class-limit table below is typed in from the facts file (not imported from the
implementation), so a wrong limit in `ledctl.standards.water` makes these tests fail.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledctl.errors import LedctlError
from ledctl.standards.water import (
    ITEMS,
    WaterAssessment,
    WaterInputError,
    assess_section,
    item_class,
)

# -- the facts table, typed in verbatim (mg/L) ---------------------------------------------

_FACTS = """
item         I         II        III      IV      V
do          7.5       6         5        3       2
codmn       2         4         6        10      15
cod         15        15        20       30      40
bod5        3         3         4        6       10
nh3n        0.15      0.5       1.0      1.5     2.0
tp-river    0.02      0.1       0.2      0.3     0.4
tp-lake     0.01      0.025     0.05     0.1     0.2
tn-lake     0.2       0.5       1.0      1.5     2.0
cu          0.01      1.0       1.0      1.0     1.0
zn          0.05      1.0       1.0      2.0     2.0
as          0.05      0.05      0.05     0.1     0.1
hg          0.00005   0.00005   0.0001   0.001   0.001
cd          0.001     0.005     0.005    0.005   0.01
cr6         0.01      0.05      0.05     0.05    0.1
pb          0.01      0.01      0.05     0.05    0.1
petroleum   0.05      0.05      0.05     0.5     1.0
"""


def _table() -> dict[str, list[Decimal]]:
    rows = [line.split() for line in _FACTS.strip().splitlines()[1:]]
    return {row[0]: [Decimal(v) for v in row[1:]] for row in rows}


TABLE = _table()
LABELS = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "劣V"}
CATEGORIES = {1: "优", 2: "优", 3: "良好", 4: "轻度污染", 5: "中度污染", 6: "重度污染"}
COLOURS = {1: "#1E90FF", 2: "#1E90FF", 3: "#00E400", 4: "#FFFF00", 5: "#FF7E00", 6: "#FF0000"}
TINY = Decimal("1E-9")  # smaller than any gap between two limits


def _param_and_lake(row: str) -> tuple[str, bool]:
    if row.endswith("-river"):
        return row.removesuffix("-river"), False
    if row.endswith("-lake"):
        return row.removesuffix("-lake"), True
    return row, False


def _limit_cases() -> list[tuple[str, bool, Decimal, int]]:
    """(param, lake, value, expected class): on each limit, and just beyond it.

    On a limit, the value meets the best class that has this limit (Hg 0.00005 is class I).
    Just beyond (worse side), it meets the next class with a looser limit, or is 劣V.
    """
    cases = []
    for row, limits in TABLE.items():
        param, lake = _param_and_lake(row)
        higher_is_better = param == "do"
        for k, limit in enumerate(limits, start=1):
            first = limits.index(limit) + 1
            cases.append((param, lake, limit, first))
            beyond = limit - TINY if higher_is_better else limit + TINY
            looser = [j for j in range(k + 1, 6) if limits[j - 1] != limit]
            cases.append((param, lake, beyond, looser[0] if looser else 6))
    return cases


LIMIT_CASES = _limit_cases()


def test_every_basic_item_is_in_the_table_and_in_the_module() -> None:
    params = {_param_and_lake(row)[0] for row in TABLE}
    assert params | {"ph"} == set(ITEMS)
    assert len(LIMIT_CASES) == 16 * 5 * 2


@pytest.mark.parametrize(
    ("param", "lake", "value", "expected"),
    LIMIT_CASES,
    ids=[f"{p}-{'lake' if lk else 'river'}-{v}" for p, lk, v, _ in LIMIT_CASES],
)
def test_class_limits_on_and_just_beyond(param: str, lake: bool, value: Decimal, expected: int) -> None:
    assert item_class(param, value, lake=lake) == expected
    assert item_class(param, str(value), lake=lake) == expected


# -- hand-checked spot values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value", "lake", "expected"),
    [
        ("do", "7.5", False, 1),
        ("do", "7.499", False, 2),
        ("do", "12", False, 1),
        ("do", "6", False, 2),
        ("do", "5.999", False, 3),
        ("do", "2", False, 5),
        ("do", "1.999", False, 6),
        ("do", "0", False, 6),
        ("codmn", "0", False, 1),
        ("codmn", "15.001", False, 6),
        ("cod", "15", False, 1),
        ("cod", "15.001", False, 3),
        ("bod5", "3.001", False, 3),
        ("nh3n", "0.151", False, 2),
        ("nh3n", "2.001", False, 6),
        ("tp", "0.101", False, 3),
        ("tp", "0.101", True, 5),  # lake: 0.1 < 0.101 <= 0.2
        ("tp", "0.05", True, 3),
        ("tp", "0.05", False, 2),
        ("tp", "0.401", False, 6),
        ("tp", "0.201", True, 6),
        ("tn", "1.0", True, 3),
        ("tn", "2.001", True, 6),
        ("cu", "0.5", False, 2),
        ("cu", "1.001", False, 6),
        ("zn", "1.5", False, 4),
        ("as", "0.06", False, 4),
        ("hg", "0.00005", False, 1),
        ("hg", "0.00006", False, 3),
        ("hg", "0.0011", False, 6),
        ("cd", "0.002", False, 2),
        ("cd", "0.006", False, 5),
        ("cr6", "0.051", False, 5),
        ("pb", "0.011", False, 3),
        ("petroleum", "0.051", False, 4),
        ("petroleum", "1.001", False, 6),
    ],
)
def test_spot_values(param: str, value: str, lake: bool, expected: int) -> None:
    assert item_class(param, value, lake=lake) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6", 1), ("9", 1), ("7.2", 1), ("5.99", 6), ("9.01", 6), ("0", 6), ("14", 6)],
)
def test_ph_inside_6_to_9_is_class_i_outside_is_worse_than_v(value: str, expected: int) -> None:
    assert item_class("ph", value) == expected
    assert item_class("ph", value, lake=True) == expected


def test_do_is_reversed() -> None:
    # Higher is better for DO, lower is better for everything else.
    assert item_class("do", "8") < item_class("do", "4")
    assert item_class("codmn", "8") > item_class("codmn", "4")


def test_values_as_int_decimal_and_float_text() -> None:
    assert item_class("codmn", 4) == 2
    assert item_class("codmn", Decimal("4.000")) == 2
    assert item_class("tp", "1E-1") == 2
    assert item_class("tp", 0.1) == 2  # a float is read through its text form "0.1"


def test_exact_decimals_not_floats() -> None:
    # 0.1 + 0.2 in floats is 0.30000000000000004, just above the class-IV limit; exactly it is on it.
    assert item_class("tp", Decimal("0.1") + Decimal("0.2")) == 4
    assert item_class("tp", "0.3") == 4
    # Decimal(0.1) carries the float's binary error (0.1000000000000000055…): above the II limit.
    assert item_class("tp", Decimal.from_float(0.1)) == 3
    assert item_class("tp", "0.1000000000000000001") == 3


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-0.01", -1, Decimal("-3")])
def test_negative_rejected_naming_item_and_value(value: object) -> None:
    with pytest.raises(WaterInputError, match=r"nh3n.*-"):
        item_class("nh3n", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", Decimal("NaN"), float("nan")])
def test_non_finite_rejected(value: object) -> None:
    with pytest.raises(WaterInputError, match=r"^do: .*not a finite number"):
        item_class("do", value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "abc", "1,5", None, True])
def test_not_a_number_rejected(value: object) -> None:
    with pytest.raises(WaterInputError, match=r"^tp: .*not a number"):
        item_class("tp", value)  # type: ignore[arg-type]


def test_error_is_a_ledctl_error() -> None:
    assert issubclass(WaterInputError, LedctlError)


def test_unknown_item_rejected_listing_known_ones() -> None:
    with pytest.raises(WaterInputError, match=r"unknown water item.*cyanide.*known:.*codmn.*petroleum.*temp"):
        item_class("cyanide", "0.1")
    with pytest.raises(WaterInputError, match=r"unknown water item.*DO.*known:.*\bdo\b"):
        assess_section({"DO": "7", "codmn": "3"})


def test_tn_has_no_river_class() -> None:
    with pytest.raises(WaterInputError, match=r"tn .*lakes and reservoirs"):
        item_class("tn", "1.0")


def test_reference_item_has_no_class() -> None:
    with pytest.raises(WaterInputError, match=r"temp is a reference item"):
        item_class("temp", "12")


def test_no_assessed_item() -> None:
    with pytest.raises(WaterInputError, match=r"^no assessed item"):
        assess_section({})
    with pytest.raises(WaterInputError, match=r"^no assessed item"):
        assess_section({"temp": "15", "fcoli": "200", "tn": "9"})  # tn is reference for rivers


def test_negative_value_in_section_rejected() -> None:
    with pytest.raises(WaterInputError, match=r"tp.*-0.2"):
        assess_section({"do": "7", "tp": "-0.2"})
    with pytest.raises(WaterInputError, match=r"fcoli.*-5"):
        assess_section({"do": "7", "fcoli": "-5"})


def test_bad_colour_override_rejected() -> None:
    with pytest.raises(WaterInputError, match=r"#RRGGBB"):
        assess_section({"do": "7"}, colours={2: "blue"})
    with pytest.raises(WaterInputError, match=r"out of range"):
        assess_section({"do": "7"}, colours={7: "#000000"})


# -- sections ------------------------------------------------------------------------------


def test_sample_yongjiang_zhaobaoshan_2026_11_24() -> None:
    # do 7.8 ≥ 7.5 → I; codmn 3.6 ≤ 4 → II; nh3n 0.42 ≤ 0.5 → II; tp 0.118 (0.1, 0.2] → III;
    # tn 1.85 is a reference item for a river.
    a = assess_section({"do": "7.80", "codmn": "3.60", "nh3n": "0.42", "tp": "0.118", "tn": "1.85"})
    assert a == WaterAssessment(
        water_class=3,
        label="III",
        category="良好",
        limiting=("tp",),
        per_item={"do": 1, "codmn": 2, "nh3n": 2, "tp": 3},
        reference={"tn": Decimal("1.85")},
        missing=(),
        colour="#00E400",
        lake=False,
    )


def test_sample_zhongdahe_2026_11_24() -> None:
    # do 5.6 in [5, 6) → III; codmn 5.2 in (4, 6] → III; nh3n 0.86 in (0.5, 1.0] → III;
    # tp 0.19 in (0.1, 0.2] → III. All four set the class.
    a = assess_section({"do": "5.60", "codmn": "5.20", "nh3n": "0.86", "tp": "0.190", "tn": "2.10"})
    assert (a.water_class, a.label, a.category) == (3, "III", "良好")
    assert a.per_item == {"do": 3, "codmn": 3, "nh3n": 3, "tp": 3}
    assert a.limiting == ("do", "codmn", "nh3n", "tp")
    assert a.missing == ()


def test_sample_xiepu_dahe_2026_11_24() -> None:
    # do 4.1 in [3, 5) → IV; codmn 7.5 in (6, 10] → IV; nh3n 1.32 in (1.0, 1.5] → IV;
    # tp 0.26 in (0.2, 0.3] → IV.
    a = assess_section({"do": "4.10", "codmn": "7.50", "nh3n": "1.32", "tp": "0.260", "tn": "2.90"})
    assert (a.water_class, a.label, a.category, a.colour) == (4, "IV", "轻度污染", "#FFFF00")
    assert a.per_item == {"do": 4, "codmn": 4, "nh3n": 4, "tp": 4}
    assert a.limiting == ("do", "codmn", "nh3n", "tp")
    assert a.reference == {"tn": Decimal("2.90")}


def test_tn_never_sets_the_class_for_rivers_or_lakes() -> None:
    # 环办〔2011〕22号 §2.1: the class is assessed on GB 3838 Table 1's basic items other than water
    # temperature, total nitrogen and faecal coliforms; "水温、总氮、粪大肠菌群作为参考指标单独评价
    # （河流总氮除外）": for a lake or reservoir TN is classed apart, for a river not at all.
    values = {"do": "8", "codmn": "1.5", "nh3n": "0.1", "tp": "0.008", "tn": "1.8"}
    river = assess_section(values)
    assert river.water_class == 1
    assert "tn" not in river.per_item
    assert river.reference == {"tn": Decimal("1.8")}
    assert river.reference_classes == {}
    lake = assess_section(values, lake=True)
    assert lake.water_class == 1  # TN 1.8 does not make the lake class V
    assert "tn" not in lake.per_item
    assert lake.reference_classes == {"tn": 5}  # TN 1.8 in (1.5, 2.0]: class V, reported apart
    assert lake.reference == {"tn": Decimal("1.8")}


def test_the_issues_lake_example_is_class_ii() -> None:
    # ledctl water --do 8 --codmn 3 --nh3n 0.3 --tp 0.02 --tn 1.8 --lake gave V; the rule gives II.
    a = assess_section({"do": "8", "codmn": "3", "nh3n": "0.3", "tp": "0.02", "tn": "1.8"}, lake=True)
    assert (a.label, a.category) == ("II", "优")
    assert a.limiting == ("codmn", "nh3n", "tp")
    assert a.reference_classes == {"tn": 5}


def test_tp_column_depends_on_lake() -> None:
    values = {"do": "8", "tp": "0.08"}
    assert assess_section(values).water_class == 2  # river: (0.02, 0.1]
    assert assess_section(values, lake=True).water_class == 4  # lake: (0.05, 0.1]


def test_reference_items_never_set_the_class() -> None:
    a = assess_section({"do": "8", "temp": "35", "fcoli": "9999999", "tn": "50"})
    assert a.water_class == 1
    assert a.limiting == ("do",)
    assert a.reference == {"tn": Decimal("50"), "temp": Decimal("35"), "fcoli": Decimal("9999999")}
    # Water temperature may be below zero; it is only reported.
    assert assess_section({"do": "8", "temp": "-0.5"}).reference == {"temp": Decimal("-0.5")}


def test_worse_than_v() -> None:
    a = assess_section({"do": "1.5", "codmn": "3", "nh3n": "0.3", "tp": "0.05"})
    assert (a.water_class, a.label, a.category, a.colour) == (6, "劣V", "重度污染", "#FF0000")
    assert a.limiting == ("do",)


def test_ties_list_every_limiting_item_in_table_order() -> None:
    a = assess_section({"tp": "0.25", "nh3n": "1.2", "do": "7.9", "petroleum": "0.3"})
    assert a.water_class == 4
    assert a.limiting == ("nh3n", "tp", "petroleum")
    assert list(a.per_item) == ["do", "nh3n", "tp", "petroleum"]


def test_missing_core_items_are_listed_not_assumed_good() -> None:
    a = assess_section({"tp": "0.15"})
    assert a.water_class == 3
    assert a.missing == ("do", "codmn", "nh3n")
    lake = assess_section({"tp": "0.15", "do": "8"}, lake=True)
    assert lake.missing == ("codmn", "nh3n")  # TN is not a class item (环办〔2011〕22号 §2.1)
    # Other basic items are not expected: their absence is not reported.
    full = assess_section({"do": "8", "codmn": "1", "nh3n": "0.1", "tp": "0.01"})
    assert full.missing == ()


def test_a_missing_value_is_not_given_a_class() -> None:
    # Only what was measured is classed: a section measured on DO alone is class I.
    a = assess_section({"do": "8"})
    assert a.per_item == {"do": 1}
    assert a.missing == ("codmn", "nh3n", "tp")


@pytest.mark.parametrize(
    ("do", "expected"),
    [("8", 1), ("7", 2), ("5.5", 3), ("4", 4), ("2.5", 5), ("1", 6)],
)
def test_label_category_and_colour_for_each_class(do: str, expected: int) -> None:
    a = assess_section({"do": do})
    assert a.water_class == expected
    assert a.label == LABELS[expected]
    assert a.category == CATEGORIES[expected]
    assert a.colour == COLOURS[expected]


def test_colours_are_configurable() -> None:
    a = assess_section({"do": "8"}, colours={1: "#0070c0"})
    assert a.colour == "#0070C0"
    assert assess_section({"do": "4"}, colours={1: "#0070c0"}).colour == "#FFFF00"


def test_ph_outside_range_sets_worse_than_v_for_section() -> None:
    a = assess_section({"ph": "9.5", "do": "8", "tp": "0.15"})
    assert a.water_class == 6
    assert a.limiting == ("ph",)
    inside = assess_section({"ph": "8.2", "do": "8", "tp": "0.15"})
    assert inside.water_class == 3
    assert inside.per_item["ph"] == 1


def test_assessment_is_frozen() -> None:
    a = assess_section({"do": "8"})
    with pytest.raises(AttributeError):
        a.water_class = 2  # type: ignore[misc]


# -- properties ----------------------------------------------------------------------------

_values = st.decimals(min_value=0, max_value=20, places=5, allow_nan=False, allow_infinity=False)


@settings(max_examples=200)
@given(a=_values, b=_values, param=st.sampled_from(["codmn", "nh3n", "tp", "hg", "cu", "petroleum"]))
def test_not_more_than_items_get_worse_as_value_rises(a: Decimal, b: Decimal, param: str) -> None:
    lo, hi = sorted((a, b))
    assert item_class(param, lo) <= item_class(param, hi)


@settings(max_examples=200)
@given(a=_values, b=_values)
def test_do_gets_better_as_value_rises(a: Decimal, b: Decimal) -> None:
    lo, hi = sorted((a, b))
    assert item_class("do", lo) >= item_class("do", hi)


@settings(max_examples=200)
@given(do=_values, codmn=_values, nh3n=_values, tp=_values, lake=st.booleans())
def test_section_class_is_worst_item(
    do: Decimal, codmn: Decimal, nh3n: Decimal, tp: Decimal, lake: bool
) -> None:
    values = {"do": do, "codmn": codmn, "nh3n": nh3n, "tp": tp}
    a = assess_section(values, lake=lake)
    classes = {p: item_class(p, v, lake=lake) for p, v in values.items()}
    assert a.water_class == max(classes.values())
    assert set(a.limiting) == {p for p, c in classes.items() if c == a.water_class}
    assert a.label == LABELS[a.water_class]
