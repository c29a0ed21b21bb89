"""Which price wins, and what happens to calls nothing can price."""
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmledger.processor.pricing import PriceBook, Pricer
from llmledger.processor.record import LlmCall

BOOK = """
models:
  - match: gpt-4o-mini
    provider: openai
    prices: {input: 0.10, output: 0.40}
discounts:
  - {provider: anthropic, percent_off: 10}
"""


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


def make_call(**fields) -> LlmCall:
    fields.setdefault("usage_reported", True)
    return LlmCall(timestamp_ns=ns("2026-09-01T12:00:00Z"), trace_id="t", span_id="s", **fields)


@pytest.fixture
def pricer() -> Pricer:
    return Pricer(PriceBook.from_text(BOOK, "book.yaml"))


def test_a_billed_cost_beats_the_price_book(pricer):
    call = make_call(provider="openai", response_model="gpt-4o-mini", input_tokens=1_000, output_tokens=1_000,
                     billed_cost=Decimal("0.00123"))
    pricer.price(call)
    assert (call.cost, call.price_source, call.unpriced) == (Decimal("0.00123"), "billed", False)
    assert call.cost_details == {}  # the provider's bill has no split into components


def test_price_book_beats_the_catalog(pricer):
    call = make_call(provider="openai", response_model="gpt-4o-mini", input_tokens=1_000, output_tokens=1_000)
    pricer.price(call)
    assert call.price_source == "price_book"
    assert call.cost == Decimal("0.0005")  # 1,000 x 0.10 / 1M + 1,000 x 0.40 / 1M (catalog would be 0.00075)


def test_catalog_prices_what_the_book_does_not_list(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=1_000, output_tokens=1_000)
    pricer.price(call)
    assert call.price_source == "catalog"
    assert call.cost == Decimal("0.0125")  # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M


def test_discount_from_the_book_applies_to_the_catalog_price(pricer):
    call = make_call(provider="anthropic", response_model="claude-3-5-haiku-20241022", input_tokens=1_000,
                     output_tokens=1_000)
    pricer.price(call)
    assert call.price_source == "price_book"
    assert call.cost == Decimal("0.00432")  # (1,000 x 0.80 / 1M + 1,000 x 4 / 1M) x 0.90


def test_unusable_billed_cost_is_ignored(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=1_000, output_tokens=1_000,
                     billed_cost=Decimal("-1"))
    pricer.price(call)
    assert call.price_source == "catalog" and call.cost == Decimal("0.0125")


def test_unknown_model_is_unpriced_counted_and_warned_about_once(pricer, caplog):
    caplog.set_level(logging.WARNING, logger="llmledger.processor.pricing")
    calls = [make_call(provider="openai", response_model="gpt-9-ultra", input_tokens=1_000, output_tokens=10)
             for _ in range(3)]
    for call in calls:
        pricer.price(call)
    for call in calls:
        assert call.cost is None and call.unpriced and call.cost_details == {}
        assert call.price_source == "" and call.price_version == ""
    assert pricer.unpriced_counts[("openai", "gpt-9-ultra")] == 3
    warnings = [r for r in caplog.records if "gpt-9-ultra" in r.getMessage()]
    assert len(warnings) == 1


def test_a_call_without_usage_is_unpriced_not_zero(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", usage_reported=False)
    pricer.price(call)
    assert call.unpriced and call.cost is None


def test_inconsistent_usage_is_unpriced(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=100, cache_read_tokens=500,
                     output_tokens=10)
    pricer.price(call)
    assert call.unpriced and call.cost is None
    assert "exceed input tokens" in pricer.unpriced_reasons[("openai", "gpt-4o")]


def test_a_call_without_a_model_name_is_unpriced(pricer):
    call = make_call(provider="openai", input_tokens=100, output_tokens=10)
    pricer.price(call)
    assert call.unpriced and pricer.unpriced_counts[("openai", "")] == 1


def test_repricing_a_call_overwrites_an_earlier_result(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=1_000, output_tokens=1_000,
                     billed_cost=Decimal("0.5"))
    pricer.price(call)
    call.billed_cost = None
    pricer.price(call)
    assert call.cost == Decimal("0.0125") and call.price_source == "catalog"  # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M


def test_pricing_never_touches_the_network(monkeypatch):
    # The catalog is the snapshot bundled in the pinned package; nothing is downloaded.
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("pricing tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = Pricer()
    call = make_call(provider="gcp.gemini", response_model="gemini-2.5-flash", input_tokens=1_000, output_tokens=1_000)
    fresh.price(call)
    assert call.cost == Decimal("0.0028")  # 1,000 x 0.30 / 1M + 1,000 x 2.50 / 1M


def test_a_tools_estimate_is_kept_beside_our_cost_never_instead(pricer):
    # OpenLIT's stale list prices gpt-4o at 0.5 / 1.5 per 1M; the catalog at 2.50 / 10:
    # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M = 0.0125.
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=1_000, output_tokens=1_000,
                     reported_cost=Decimal("0.002"), reported_cost_source="openlit")
    pricer.price(call)
    assert (call.cost, call.price_source) == (Decimal("0.0125"), "catalog")
    assert call.reported_cost == Decimal("0.002") and call.reported_cost_disagrees


def test_an_estimate_that_differs_only_by_float_rounding_agrees(pricer):
    # LiteLLM's float arithmetic: 300 x 0.60 / 1M printed as 0.00017999999999999998.
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=0, output_tokens=18,
                     reported_cost=Decimal("0.00017999999999999998"), reported_cost_source="litellm")
    pricer.price(call)
    assert call.cost == Decimal("0.00018")  # 18 x 10 / 1M
    assert not call.reported_cost_disagrees


def test_estimated_token_counts_are_never_priced(pricer):
    call = make_call(provider="openai", response_model="gpt-4o", input_tokens=8, output_tokens=6,
                     usage_source="estimated")
    pricer.price(call)
    assert call.cost is None and call.unpriced
    assert "estimated" in pricer.unpriced_reasons[("openai", "gpt-4o")]


@pytest.mark.parametrize("status", ["Error", "Refused"])
def test_a_failed_or_refused_call_without_usage_has_no_cost_and_is_not_unpriced(pricer, status):
    call = make_call(provider="openai", request_model="gpt-4o", usage_reported=False, status=status)
    pricer.price(call)
    assert (call.cost, call.unpriced, call.price_source) == (None, False, "")
    assert not pricer.unpriced_counts
