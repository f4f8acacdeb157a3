"""Planner test fixtures: the catalogue, and plans cached per session (planning runs the simulator)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from garrison.catalogue import Catalogue, load_catalogue
from garrison.design import Design
from garrison.planner import plan
from garrison.planner.model_refs import load_model_ref
from garrison.requirements_file import load_requirements
from planner.helpers import CASES, TODAY


@pytest.fixture(scope="session")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def planned(cat: Catalogue) -> Callable[[str], Design]:
    """plan_case("name") -> the Design of tests/planner/cases/name.yaml (simulated, planned once)."""
    cache: dict[str, Design] = {}

    def plan_case(name: str) -> Design:
        if name not in cache:
            req = load_requirements(CASES / f"{name}.yaml")
            cache[name] = plan(req, catalogue=cat, load_model=load_model_ref, today=TODAY)
        return cache[name]

    return plan_case
