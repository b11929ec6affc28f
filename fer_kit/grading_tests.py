"""Table 6 grading as pytest tests, for instructors:

    FER_KIT_RESULTS=path/to/results python -m pytest --pyargs fer_kit.grading_tests
    # optional: FER_KIT_REFERENCE=reference.json FER_KIT_TOLERANCE=5 FER_KIT_CHECKS=completeness,leaks

One test per check of :func:`fer_kit.grade.grade`; a failing test prints that check's details.
"""

from __future__ import annotations

import os

import pytest

from fer_kit.grade import CHECKS, grade

_CHECKS = tuple(os.environ.get("FER_KIT_CHECKS", ",".join(CHECKS)).split(","))


@pytest.fixture(scope="module")
def report():
    folder = os.environ.get("FER_KIT_RESULTS")
    if not folder:
        pytest.skip("set FER_KIT_RESULTS to the results folder to grade")
    return grade(folder, reference=os.environ.get("FER_KIT_REFERENCE"),
                 tolerance=float(os.environ.get("FER_KIT_TOLERANCE", 5)),
                 reference_tolerance=float(os.environ.get("FER_KIT_REFERENCE_TOLERANCE", 5)), checks=_CHECKS)


@pytest.mark.parametrize("name", _CHECKS)
def test_check(report, name):
    check = report.check(name)
    if check.status == "skip":
        pytest.skip("; ".join(check.details))
    assert check.status == "pass", "\n".join(check.details)
