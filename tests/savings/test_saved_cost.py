"""saved_cost and prompt_cache_saved of single calls, checked against published prices
worked out by hand (USD per 1M tokens: gpt-4o-mini 0.15 in / 0.075 cached / 0.60 out;
gpt-4o 2.50 / 1.25 / 10; claude-sonnet-4 3.00 in / 0.30 read / 3.75 write / 15 out)."""
from __future__ import annotations

from decimal import Decimal

from llmledger.processor.normalize.savings import read_savings
from llmledger.processor.pricing import Pricer
from llmledger.processor.pricing.savings import SavingsPricer
from llmledger.processor.record import LlmCall

AT = 1_767_225_600 * 10**9  # 2026-01-01 UTC


def _priced(attributes: dict, *, provider="openai", model="gpt-4o-mini", input_tokens=1000, output_tokens=100,
            cache_read=200, cache_write=0) -> LlmCall:
    call = LlmCall(timestamp_ns=AT, trace_id="1" * 32, span_id="2" * 16, provider=provider, operation="chat",
                   request_model=model, input_tokens=input_tokens, output_tokens=output_tokens,
                   cache_read_tokens=cache_read, cache_write_tokens=cache_write, usage_reported=True)
    read_savings(call, attributes)
    pricer = Pricer(warn_unpriced=False)
    pricer.price(call)
    SavingsPricer(pricer).apply(call)
    return call


def test_an_exact_cache_hit_costs_nothing_and_saves_its_price():
    call = _priced({"llmledger.cache.hit": "true", "llmledger.cache.kind": "exact",
                    "llmledger.cache.source_trace_id": "a" * 32, "llmledger.cache.source_span_id": "b" * 16})
    # 800 x 0.15/1M = 0.000120; 200 x 0.075/1M = 0.000015; 100 x 0.60/1M = 0.000060 -> 0.000195
    assert call.cost == 0 and call.cost_details == {}
    assert call.saved_cost == Decimal("0.000195")
    assert call.saving_strategy == "exact_cache" and call.cache_kind == "exact"
    assert (call.cache_source_trace_id, call.cache_source_span_id) == ("a" * 32, "b" * 16)
    assert call.prompt_cache_saved == 0  # nothing was paid, so provider caching saved nothing here
    assert call.price_source == "catalog" and "gpt-4o-mini" in call.price_version


def test_a_routed_call_saves_the_requested_models_price_minus_its_own():
    call = _priced({"llmledger.routing.requested_model": "gpt-4o", "llmledger.routing.kind": "rule",
                    "llmledger.routing.reason": "rule short-questions"})
    # On gpt-4o: 800 x 2.50/1M = 0.002000; 200 x 1.25/1M = 0.000250; 100 x 10/1M = 0.001000 -> 0.003250
    # Paid on gpt-4o-mini: 0.000195. Saved: 0.003250 - 0.000195 = 0.003055
    assert call.cost == Decimal("0.000195")
    assert call.saved_cost == Decimal("0.003055")
    assert (call.saving_strategy, call.requested_model, call.routing_reason) == (
        "routing", "gpt-4o", "rule short-questions")


def test_a_fallback_to_a_dearer_model_saves_a_negative_amount():
    call = _priced({"llmledger.routing.requested_model": "gpt-4o-mini", "llmledger.routing.kind": "fallback",
                    "llmledger.routing.reason": "fallback after 429"}, model="gpt-4o")
    assert call.cost == Decimal("0.003250")
    assert call.saved_cost == Decimal("-0.003055")
    assert call.saving_strategy == "fallback"


def test_provider_prompt_caching_is_valued_at_the_plain_input_rate():
    call = _priced({})
    # 200 cached tokens: at input 200 x 0.15/1M = 0.000030, charged 200 x 0.075/1M = 0.000015 -> 0.000015
    assert call.prompt_cache_saved == Decimal("0.000015")
    assert call.saving_strategy == "" and call.saved_cost is None


def test_cache_writes_dearer_than_input_count_against_prompt_caching():
    call = _priced({}, provider="anthropic", model="claude-sonnet-4-20250514", input_tokens=7000,
                   output_tokens=500, cache_read=4000, cache_write=2000)
    # reads: 4000 x (3.00 - 0.30)/1M = 0.010800; writes: 2000 x (3.00 - 3.75)/1M = -0.001500 -> 0.009300
    assert call.prompt_cache_saved == Decimal("0.009300")


def test_a_hit_on_a_model_without_a_price_costs_zero_and_saves_an_unknown_amount():
    call = _priced({"llmledger.cache.hit": "true", "llmledger.cache.kind": "semantic"}, model="my-own-llm")
    assert (call.cost, call.saved_cost, call.unpriced, call.saving_strategy) == (0, None, False, "semantic_cache")


def test_a_route_from_a_model_without_a_price_saves_an_unknown_amount():
    call = _priced({"llmledger.routing.requested_model": "my-own-llm"})
    assert call.cost == Decimal("0.000195") and call.saved_cost is None and call.saving_strategy == "routing"


def test_an_unknown_cache_kind_counts_as_exact_and_same_model_is_no_route():
    assert _priced({"llmledger.cache.hit": "true", "llmledger.cache.kind": "weird"}).cache_kind == "exact"
    same = _priced({"llmledger.routing.requested_model": "gpt-4o-mini"})
    assert same.saving_strategy == "" and same.requested_model == ""
