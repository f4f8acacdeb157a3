"""The free-form value readers: numbers with units, money, model sizes, regimes, licences, kinds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from garrison.handoff import parse as p


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("first token under 2 s", 2000),
        ("500ms", 500),
        ("within 1.5 seconds", 1500),
        ("2 min", 120_000),
        (800, 800),
        ("Tokens per second target", None),
        ("2 servers", None),
    ],
)
def test_duration_ms(text: object, ms: float | None) -> None:
    assert p.duration_ms(text) == ms


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("50 users", 50),
        ("about 1,200 developers", 1200),
        ("1.5k seats", 1500),
        (40, 40),
        ("Expected simultaneous users", None),
    ],
)
def test_count(text: object, n: int | None) -> None:
    assert p.count(text) == n


@pytest.mark.parametrize(
    ("text", "n"), [("32k", 32768), ("128K tokens", 131072), ("1M", 1048576), (8192, 8192), ("long", None)]
)
def test_tokens(text: object, n: int | None) -> None:
    assert p.tokens(text) == n


def test_tokens_per_s_needs_a_rate_unit() -> None:
    assert p.tokens_per_s("20 tokens/s per user") == 20
    assert p.tokens_per_s("at least 15 tok/s") == 15
    assert p.tokens_per_s("first token under 2 s") is None


@pytest.mark.parametrize(
    ("text", "amount", "currency", "per_year"),
    [
        ("$250k capex", 250_000, "USD", False),
        ("250,000 USD", 250_000, "USD", False),
        ("€1.2M hardware", 1_200_000, "EUR", False),
        ("60k per year running costs", 60_000, "", True),
        ("20k USD per month", 240_000, "USD", True),
        (90_000, 90_000, "", False),
    ],
)
def test_money(text: object, amount: float, currency: str, per_year: bool) -> None:
    m = p.money(text)
    assert m is not None
    assert (m.amount, m.currency, m.per_year) == (amount, currency, per_year)


def test_money_ignores_small_bare_numbers() -> None:
    assert p.money("2 servers in a rack") is None
    assert p.money("Budget constraints") is None


def test_budget_clauses_keep_thousands_commas() -> None:
    assert p.clauses("€400k hardware; 60k per year running costs") == [
        "€400k hardware",
        "60k per year running costs",
    ]
    assert p.clauses("250,000 USD, plus 20k/year") == ["250,000 USD", "20k/year"]


@pytest.mark.parametrize(
    ("text", "total", "active", "fmt", "guessed"),
    [
        ("70B at FP8", 70, None, "fp8", False),
        ("230B total, 10B active, FP8", 230, 10, "fp8", False),
        ("8B in 4-bit", 8, None, "awq", True),
        ("full precision", None, None, "bf16", True),
    ],
)
def test_model_size(text: str, total: float | None, active: float | None, fmt: str, guessed: bool) -> None:
    s = p.model_size(text)
    assert s is not None
    assert (s.total_b, s.active_b, s.precision, s.precision_guessed) == (total, active, fmt, guessed)
    assert p.model_size("Parameter counts and precision") is None


def test_compliance_keeps_unknown_phrases() -> None:
    known, rest = p.compliance("must follow GDPR and the EU AI Act; client privilege")
    assert known == ["GDPR", "EU AI Act"]
    assert rest == ["client privilege"]
    assert p.compliance(["HIPAA", "SOC2"]) == (["HIPAA", "SOC 2"], [])


def test_licences() -> None:
    assert p.licences("Apache 2.0 or the Llama community licence") == (
        ["apache-2.0", "llama3.1", "llama3.3"],
        [],
    )
    assert p.licences("Llama 3.3 only") == (["llama3.3"], [])
    assert p.licences("MIT, anything permissive") == (["mit"], ["anything permissive"])


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("code completion for 40 developers", ("code", True)),
        ("coding assistant", ("code", False)),
        ("overnight document summarisation", ("batch", False)),
        ("internal chat assistant", ("chat", False)),
        ("misc", None),
    ],
)
def test_kind_of(text: str, kind: tuple[str, bool] | None) -> None:
    assert p.kind_of(text) == kind


@given(st.text(max_size=60))
def test_readers_never_raise(text: str) -> None:
    for fn in (p.number, p.duration_ms, p.count, p.tokens, p.tokens_per_s, p.percent, p.money, p.model_size):
        fn(text)
    p.compliance(text)
    p.licences(text)
    assert p.slug(text, "x")


def test_size_phrase_or_name() -> None:
    assert p.is_size_phrase("70B at FP8")
    assert p.is_size_phrase("a 32B model")
    assert not p.is_size_phrase("Qwen9-700B-Imaginary")
    assert not p.is_size_phrase("Models to be deployed")


@given(
    st.one_of(
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        st.from_regex(r"\A[0-9]{1,400}(\.[0-9]{1,5})?\s?(k|M|users|s|ms|%|B|tokens/s|USD)?\Z"),
    )
)
def test_huge_or_non_finite_numbers_are_not_numbers(value: object) -> None:
    for fn in (p.number, p.duration_ms, p.count, p.tokens, p.tokens_per_s, p.percent):
        out = fn(value)
        assert out is None or (math.isfinite(out) and abs(out) <= p.MAX_NUMBER * 1024**2 * 100), (
            fn,
            value,
            out,
        )
    m = p.money(value)
    assert m is None or (math.isfinite(m.amount) and m.amount <= p.MAX_NUMBER)
