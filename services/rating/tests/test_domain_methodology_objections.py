"""A bad methodology file is refused naming the field; the objection state machine and SLA."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import pytest
import yaml

from carbon_rating.domain import objections as obj
from carbon_rating.domain.methodology import MethodologyError, parse_methodology
from carbon_rating.methodology import load, parse_text


def v1() -> dict:
    return yaml.safe_load(resources.files("carbon_rating.methodology").joinpath("v1.yaml").read_text("utf-8"))


def test_shipped_methodology_loads() -> None:
    m = load("v1")
    assert m.version == "v1" and [b.label for b in m.labels] == ["dark_green", "light_green", "yellow", "red"]


def test_weights_not_summing_to_one_are_refused_naming_the_stage() -> None:
    data = v1()
    data["weights"]["mid"]["improvement"] = "0.30"
    with pytest.raises(MethodologyError) as err:
        parse_methodology(data)
    assert err.value.field == "weights.mid" and "sum to 1" in err.value.reason


def test_overlapping_thresholds_are_refused() -> None:
    data = v1()
    data["labels"][2]["min_score"] = 70  # yellow above light_green's 65
    with pytest.raises(MethodologyError) as err:
        parse_methodology(data)
    assert err.value.field == "labels.yellow.min_score"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["weights"]["early"].update({"luck": "0"}), "weights.early.luck"),
        (lambda d: d["vetoes"]["ets_overdraft"].update({"cap": "purple"}), "vetoes.ets_overdraft.cap"),
        (lambda d: d["parameters"].update({"min_peer_group": "five"}), "parameters.min_peer_group"),
        (lambda d: d.pop("labels"), "labels"),
        (lambda d: d["labels"][3].update({"min_score": 5}), "labels.red.min_score"),
    ],
)
def test_other_invalid_fields_are_named(mutate, field: str) -> None:
    data = v1()
    mutate(data)
    with pytest.raises(MethodologyError) as err:
        parse_methodology(data)
    assert err.value.field == field


def test_non_mapping_document_is_refused() -> None:
    with pytest.raises(MethodologyError):
        parse_text("- just a list")


ALL = ["open", "in_review", "upheld", "revised", "rejected", "withdrawn"]
LEGAL = {
    ("open", "in_review"),
    ("open", "upheld"),
    ("open", "revised"),
    ("open", "rejected"),
    ("open", "withdrawn"),
    ("in_review", "upheld"),
    ("in_review", "revised"),
    ("in_review", "rejected"),
    ("in_review", "withdrawn"),
}


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("wanted", ALL)
def test_every_transition_is_legal_or_refused(current: str, wanted: str) -> None:
    if (current, wanted) in LEGAL:
        assert obj.transition(current, wanted) == wanted
    else:
        with pytest.raises(obj.IllegalTransition) as err:
            obj.transition(current, wanted)
        assert current in str(err.value) and wanted in str(err.value)


def test_due_date_counts_working_days() -> None:
    friday = datetime(2024, 5, 3, 10, tzinfo=UTC)
    assert obj.due_date(friday, 1) == datetime(2024, 5, 6, 10, tzinfo=UTC)  # Monday
    assert obj.due_date(friday, 20) == datetime(2024, 5, 31, 10, tzinfo=UTC)  # four weeks of weekdays
    assert obj.is_overdue("open", friday, datetime(2024, 5, 4, tzinfo=UTC))
    assert not obj.is_overdue("upheld", friday, datetime(2024, 5, 4, tzinfo=UTC))
