"""load_model_spec through the catalogue (skipped until the catalogue API is merged)."""

from __future__ import annotations

from typing import Any

import pytest

from garrison.errors import InputError
from garrison.modelspec import load_model_spec, param_counts


def _catalogue() -> Any:
    catalogue = pytest.importorskip("garrison.catalogue")
    if not hasattr(catalogue, "load_catalogue"):
        pytest.skip("catalogue API not merged into this branch yet")
    return catalogue.load_catalogue()


def test_catalogue_id_fills_card_facts() -> None:
    cat = _catalogue()
    entry = cat.model("Qwen/Qwen3-32B")  # a Hugging Face id resolves like a catalogue id
    s = load_model_spec("Qwen/Qwen3-32B")
    assert s.source == "catalogue" and s.name == entry.id
    assert s.license == entry.license and s.fim == entry.fim
    assert s.params_total_b_card == entry.params_total_b
    with pytest.raises(InputError):
        load_model_spec("no-such-model-xyz")


def test_every_catalogue_model_counts_within_5pct_of_its_card() -> None:
    """Shape-derived total (without MTP and vision) vs the catalogue's card total, for every model."""
    cat = _catalogue()
    off = {}
    for model_id in sorted(cat.models):
        p = param_counts(load_model_spec(model_id))
        total_b = (p.total - p.mtp - p.vision) / 1e9
        card = cat.models[model_id].params_total_b
        if abs(total_b / card - 1) > 0.05:
            off[model_id] = (round(total_b, 1), card)
    assert not off
