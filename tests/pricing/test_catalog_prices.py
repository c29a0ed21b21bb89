"""Costs from the bundled catalog, each checked against a figure worked out by hand from
the provider's published price per 1M tokens.

Usage follows the GenAI conventions: input_tokens INCLUDES cached tokens (read and
write), output_tokens INCLUDES reasoning tokens.
"""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmledger.processor.pricing import Pricer
from llmledger.processor.record import LlmCall


def ns(text: str) -> int:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return int(moment.timestamp()) * 1_000_000_000


def priced(pricer: Pricer | None = None, *, when: str = "2026-09-01T12:00:00Z", **fields) -> LlmCall:
    call = LlmCall(timestamp_ns=ns(when), trace_id="t", span_id="s", usage_reported=True, **fields)
    (pricer or Pricer()).price(call)
    return call


def assert_cost(call: LlmCall, total: Decimal, details: dict[str, Decimal]) -> None:
    assert not call.unpriced, call
    assert call.cost == total
    assert call.cost_details == details
    assert sum(call.cost_details.values(), Decimal(0)) == call.cost
    assert call.price_source == "catalog"
    assert call.price_version.startswith("genai-prices 0.2.3 ")


# -- OpenAI ---------------------------------------------------------------------------------

def test_gpt_4o_mini_dated_snapshot_with_cached_input():
    call = priced(provider="openai", response_model="gpt-4o-mini-2024-07-18",
                  input_tokens=10_000, cache_read_tokens=4_000, output_tokens=500)
    assert_cost(call, Decimal("0.0015"), {
        "input": Decimal("0.0009"),        # 6,000 uncached x 0.15 / 1M
        "cache_read": Decimal("0.0003"),   # 4,000 x 0.075 / 1M
        "output": Decimal("0.0003"),       # 500 x 0.60 / 1M
    })
    assert call.price_version == "genai-prices 0.2.3 openai/gpt-4o-mini"


def test_gpt_4o_with_cached_input():
    call = priced(provider="openai", response_model="gpt-4o", input_tokens=3_000, cache_read_tokens=1_024,
                  output_tokens=300)
    assert_cost(call, Decimal("0.00922"), {
        "input": Decimal("0.00494"),       # 1,976 x 2.50 / 1M
        "cache_read": Decimal("0.00128"),  # 1,024 x 1.25 / 1M
        "output": Decimal("0.003"),        # 300 x 10 / 1M
    })


def test_gpt_4o_may_2024_snapshot_has_its_own_older_price():
    # gpt-4o-2024-05-13 kept its launch price: 5 in / 15 out.
    call = priced(provider="openai", response_model="gpt-4o-2024-05-13", input_tokens=1_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.02"), {
        "input": Decimal("0.005"),         # 1,000 x 5 / 1M
        "output": Decimal("0.015"),        # 1,000 x 15 / 1M
    })


def test_gpt_4_1_with_mostly_cached_input():
    call = priced(provider="openai", response_model="gpt-4.1-2025-04-14", input_tokens=50_000,
                  cache_read_tokens=40_000, output_tokens=2_000)
    assert_cost(call, Decimal("0.056"), {
        "input": Decimal("0.02"),          # 10,000 x 2.00 / 1M
        "cache_read": Decimal("0.02"),     # 40,000 x 0.50 / 1M
        "output": Decimal("0.016"),        # 2,000 x 8.00 / 1M
    })


def test_gpt_4_1_mini_request_model_when_no_response_model():
    call = priced(provider="openai", request_model="gpt-4.1-mini", input_tokens=1_000_000, output_tokens=100_000)
    assert_cost(call, Decimal("0.56"), {
        "input": Decimal("0.40"),          # 1,000,000 x 0.40 / 1M
        "output": Decimal("0.16"),         # 100,000 x 1.60 / 1M
    })


def test_o4_mini_reasoning_tokens_are_billed_as_output():
    call = priced(provider="openai", response_model="o4-mini-2025-04-16", input_tokens=1_200,
                  output_tokens=3_000, reasoning_tokens=2_500)
    assert_cost(call, Decimal("0.01452"), {
        "input": Decimal("0.00132"),       # 1,200 x 1.10 / 1M
        "output": Decimal("0.0132"),       # 3,000 (2,500 of them reasoning) x 4.40 / 1M
    })


def test_embeddings_are_priced_on_input_tokens_only():
    call = priced(provider="openai", operation="embeddings", response_model="text-embedding-3-small",
                  input_tokens=8_000, output_tokens=0)
    assert_cost(call, Decimal("0.00016"), {"input": Decimal("0.00016")})  # 8,000 x 0.02 / 1M


# -- Anthropic ------------------------------------------------------------------------------

def test_claude_sonnet_4_cache_read_and_cache_write():
    # input 10,000 = 2,000 uncached + 6,000 read from cache + 2,000 written to cache
    call = priced(provider="anthropic", response_model="claude-sonnet-4-20250514", input_tokens=10_000,
                  cache_read_tokens=6_000, cache_write_tokens=2_000, output_tokens=800)
    assert_cost(call, Decimal("0.0273"), {
        "input": Decimal("0.006"),         # 2,000 x 3.00 / 1M
        "cache_read": Decimal("0.0018"),   # 6,000 x 0.30 / 1M
        "cache_write": Decimal("0.0075"),  # 2,000 x 3.75 / 1M (5-minute cache write)
        "output": Decimal("0.012"),        # 800 x 15 / 1M
    })


def test_claude_3_5_haiku_cache_read_and_cache_write():
    call = priced(provider="anthropic", response_model="claude-3-5-haiku-20241022", input_tokens=5_000,
                  cache_read_tokens=3_000, cache_write_tokens=1_000, output_tokens=400)
    assert_cost(call, Decimal("0.00364"), {
        "input": Decimal("0.0008"),        # 1,000 x 0.80 / 1M
        "cache_read": Decimal("0.00024"),  # 3,000 x 0.08 / 1M
        "cache_write": Decimal("0.001"),   # 1,000 x 1.00 / 1M
        "output": Decimal("0.0016"),       # 400 x 4.00 / 1M
    })


# -- Google: the long-context tier ---------------------------------------------------------

def test_gemini_2_5_pro_at_200k_input_tokens_is_still_the_base_tier():
    call = priced(provider="gcp.gemini", response_model="gemini-2.5-pro", input_tokens=200_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.26"), {
        "input": Decimal("0.25"),          # 200,000 x 1.25 / 1M
        "output": Decimal("0.01"),         # 1,000 x 10 / 1M
    })


def test_gemini_2_5_pro_above_200k_input_tokens_reprices_every_token():
    call = priced(provider="gcp.gemini", response_model="gemini-2.5-pro", input_tokens=250_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.64"), {
        "input": Decimal("0.625"),         # 250,000 x 2.50 / 1M
        "output": Decimal("0.015"),        # 1,000 x 15 / 1M
    })


def test_gemini_2_5_pro_long_context_cache_reads_use_the_long_context_cache_rate():
    # Google's context-caching price for 2.5 Pro: 0.125 up to 200k prompt tokens, 0.25 above.
    call = priced(provider="gcp.gemini", response_model="models/gemini-2.5-pro", input_tokens=250_000,
                  cache_read_tokens=100_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.415"), {
        "input": Decimal("0.375"),         # 150,000 x 2.50 / 1M
        "cache_read": Decimal("0.025"),    # 100,000 x 0.25 / 1M
        "output": Decimal("0.015"),        # 1,000 x 15 / 1M
    })


# -- Open-weights hosts ------------------------------------------------------------------------

def test_groq_llama_3_3_70b():
    call = priced(provider="groq", response_model="llama-3.3-70b-versatile", input_tokens=3_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.00256"), {
        "input": Decimal("0.00177"),       # 3,000 x 0.59 / 1M
        "output": Decimal("0.00079"),      # 1,000 x 0.79 / 1M
    })


def test_together_llama_3_3_70b_turbo():
    call = priced(provider="together_ai", server_address="api.together.xyz",
                  response_model="meta-llama/Llama-3.3-70B-Instruct-Turbo", input_tokens=2_000, output_tokens=500)
    assert_cost(call, Decimal("0.0022"), {
        "input": Decimal("0.00176"),       # 2,000 x 0.88 / 1M
        "output": Decimal("0.00044"),      # 500 x 0.88 / 1M
    })


def test_deepseek_chat_peak_and_off_peak_hours_on_the_same_day():
    # DeepSeek-chat: 0.27 in / 0.07 cache hit / 1.10 out from 00:30 to 16:30 UTC, half that off-peak.
    # One pricer for all three calls: a cache keyed by day would get two of them wrong.
    pricer = Pricer()
    usage = dict(provider="deepseek", response_model="deepseek-chat", input_tokens=10_000,
                 cache_read_tokens=4_000, output_tokens=1_000)
    peak = priced(pricer, when="2026-09-01T12:00:00Z", **usage)
    assert_cost(peak, Decimal("0.003"), {
        "input": Decimal("0.00162"),       # 6,000 x 0.27 / 1M
        "cache_read": Decimal("0.00028"),  # 4,000 x 0.07 / 1M
        "output": Decimal("0.0011"),       # 1,000 x 1.10 / 1M
    })
    off_peak = {
        "input": Decimal("0.00081"),       # 6,000 x 0.135 / 1M
        "cache_read": Decimal("0.00014"),  # 4,000 x 0.035 / 1M
        "output": Decimal("0.00055"),      # 1,000 x 0.55 / 1M
    }
    assert_cost(priced(pricer, when="2026-09-01T20:00:00Z", **usage), Decimal("0.0015"), off_peak)
    assert_cost(priced(pricer, when="2026-09-01T00:15:00Z", **usage), Decimal("0.0015"), off_peak)
    assert priced(pricer, when="2026-09-01T16:29:00Z", **usage).cost == Decimal("0.003")


# -- Service tiers ----------------------------------------------------------------------------

# The catalog's OpenAI tier prices start on the day they were verified (flex and priority
# 2026-10-12, batch 2026-10-14); before that the catalog has none, and llmledger applies
# OpenAI's documented rule (batch and flex: half price) itself.

BATCH_GPT_4O_MINI = dict(provider="openai", response_model="gpt-4o-mini", service_tier="batch",
                         input_tokens=10_000, cache_read_tokens=4_000, output_tokens=500)
BATCH_GPT_4O_MINI_COST = {
    "input": Decimal("0.00045"),       # 6,000 x 0.075 / 1M (half of 0.15)
    "cache_read": Decimal("0.0003"),   # 4,000 x 0.075 / 1M: OpenAI lists no batch cached rate, standard applies
    "output": Decimal("0.00015"),      # 500 x 0.30 / 1M (half of 0.60)
}


def test_openai_batch_after_the_catalog_has_a_batch_price():
    call = priced(when="2026-11-01T00:00:00Z", **BATCH_GPT_4O_MINI)
    assert_cost(call, Decimal("0.0009"), BATCH_GPT_4O_MINI_COST)
    assert call.price_version == "genai-prices 0.2.3 openai/gpt-4o-mini batch"


def test_openai_batch_before_the_catalog_has_a_batch_price_uses_the_half_price_rule():
    call = priced(when="2026-10-13T23:59:00Z", **BATCH_GPT_4O_MINI)
    assert_cost(call, Decimal("0.0009"), BATCH_GPT_4O_MINI_COST)
    assert call.price_version == "genai-prices 0.2.3 openai/gpt-4o-mini batch half-price rule"


def test_o4_mini_flex_cached_input_on_both_sides_of_the_catalog_date():
    # "Flex: half price" makes cached input 0.275 / 2 = 0.1375; OpenAI's own flex table, which
    # the catalog follows from 2026-10-12, publishes it rounded to 0.138.
    pricer = Pricer()
    usage = dict(provider="openai", response_model="o4-mini", service_tier="flex",
                 input_tokens=100_000, cache_read_tokens=40_000, output_tokens=10_000)
    before = priced(pricer, when="2026-10-11T12:00:00Z", **usage)
    assert_cost(before, Decimal("0.0605"), {
        "input": Decimal("0.033"),         # 60,000 x 0.55 / 1M
        "cache_read": Decimal("0.0055"),   # 40,000 x 0.1375 / 1M
        "output": Decimal("0.022"),        # 10,000 x 2.20 / 1M
    })
    after = priced(pricer, when="2026-10-12T00:00:00Z", **usage)
    assert_cost(after, Decimal("0.06052"), {
        "input": Decimal("0.033"),         # 60,000 x 0.55 / 1M
        "cache_read": Decimal("0.00552"),  # 40,000 x 0.138 / 1M
        "output": Decimal("0.022"),        # 10,000 x 2.20 / 1M
    })


def test_gemini_batch_long_context_after_the_catalog_date():
    call = priced(when="2026-11-01T00:00:00Z", provider="gcp.gemini", response_model="gemini-2.5-pro",
                  service_tier="batch", input_tokens=250_000, output_tokens=1_000)
    assert_cost(call, Decimal("0.32"), {
        "input": Decimal("0.3125"),        # 250,000 x 1.25 / 1M (half of 2.50)
        "output": Decimal("0.0075"),       # 1,000 x 7.50 / 1M (half of 15)
    })


def test_priority_tier_is_priced_only_where_the_catalog_has_a_price():
    usage = dict(provider="openai", response_model="gpt-4o-mini", service_tier="priority",
                 input_tokens=1_000, output_tokens=1_000)
    assert priced(when="2026-10-11T00:00:00Z", **usage).unpriced
    call = priced(when="2026-10-12T00:00:00Z", **usage)
    assert_cost(call, Decimal("0.00125"), {
        "input": Decimal("0.00025"),       # 1,000 x 0.25 / 1M
        "output": Decimal("0.001"),        # 1,000 x 1.00 / 1M
    })


@pytest.mark.parametrize("provider, model", [
    ("anthropic", "claude-sonnet-4-20250514"),  # no catalog batch price, and the half-price rule is OpenAI's
    ("openai", "gpt-4o-mini"),                  # "scale" tier: no price anywhere
])
def test_a_tier_without_a_price_is_left_unpriced_not_priced_as_standard(provider, model):
    tier = "batch" if provider == "anthropic" else "scale"
    call = priced(when="2026-11-01T00:00:00Z", provider=provider, response_model=model, service_tier=tier,
                  input_tokens=1_000, output_tokens=100)
    assert call.unpriced and call.cost is None and call.cost_details == {}


def test_default_and_auto_tiers_are_the_standard_price():
    for tier in ("default", "auto"):
        call = priced(provider="openai", response_model="gpt-4o", service_tier=tier,
                      input_tokens=1_000, output_tokens=1_000)
        assert call.cost == Decimal("0.0125")  # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M


# -- Finding the provider ---------------------------------------------------------------------

@pytest.mark.parametrize("provider, server_address, model, expected_version", [
    # Azure serves OpenAI's models at OpenAI's list price for gpt-4o-mini (0.15 / 0.60).
    ("azure.ai.openai", "acme.openai.azure.com", "gpt-4o-mini", "genai-prices 0.2.3 azure/gpt-4o-mini"),
    # Bedrock model ids carry a region prefix and a version suffix.
    ("aws.bedrock", "bedrock-runtime.us-east-1.amazonaws.com", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
     "genai-prices 0.2.3 aws/regional.anthropic.claude-3-5-haiku-20241022-v1:0"),
    # The OpenAI SDK pointed at Groq: the host decides.
    ("openai", "api.groq.com", "llama-3.3-70b-versatile", "genai-prices 0.2.3 groq/llama-3.3-70b-versatile"),
    # No provider at all: the model name decides.
    ("", "", "claude-3-5-haiku-20241022", "genai-prices 0.2.3 anthropic/claude-3-5-haiku-latest"),
])
def test_provider_is_found_from_host_name_or_model(provider, server_address, model, expected_version):
    call = priced(provider=provider, server_address=server_address, response_model=model,
                  input_tokens=1_000, output_tokens=1_000)
    assert call.price_version == expected_version
    # gpt-4o-mini: 1,000 x 0.15 / 1M + 1,000 x 0.60 / 1M; Claude 3.5 Haiku: 1,000 x 0.80 / 1M + 1,000 x 4 / 1M;
    # Llama 3.3 70B on Groq: 1,000 x 0.59 / 1M + 1,000 x 0.79 / 1M
    expected = {"gpt-4o-mini": Decimal("0.00075"), "llama-3.3-70b-versatile": Decimal("0.00138")}
    assert call.cost == expected.get(model, Decimal("0.0048"))


def test_vertex_ai_serves_claude_at_anthropics_price():
    call = priced(provider="gcp.vertex_ai", server_address="us-east5-aiplatform.googleapis.com",
                  response_model="claude-sonnet-4@20250514", input_tokens=1_000, output_tokens=1_000)
    assert call.cost == Decimal("0.018")  # 1,000 x 3 / 1M + 1,000 x 15 / 1M


@pytest.mark.parametrize("provider, server_address", [("vllm", "localhost"), ("openai", "127.0.0.1")])
def test_self_hosted_open_weights_are_not_priced_at_a_cloud_hosts_price(provider, server_address):
    call = priced(provider=provider, server_address=server_address,
                  response_model="meta-llama/Llama-3.3-70B-Instruct-Turbo", input_tokens=1_000, output_tokens=1_000)
    assert call.unpriced and call.cost is None


# -- The catalog's own arithmetic agrees --------------------------------------------------------

@pytest.mark.parametrize("otel_provider, catalog_provider, model, usage", [
    ("openai", "openai", "gpt-4o-mini", dict(input_tokens=12_345, cache_read_tokens=4_096, output_tokens=789)),
    ("anthropic", "anthropic", "claude-sonnet-4-20250514",
     dict(input_tokens=54_321, cache_read_tokens=30_000, cache_write_tokens=20_000, output_tokens=1_234)),
    ("gcp.gemini", "google", "gemini-2.5-pro", dict(input_tokens=345_678, cache_read_tokens=100_000, output_tokens=4_321)),
    ("openai", "openai", "o4-mini", dict(input_tokens=1_000, output_tokens=9_000, reasoning_tokens=8_000)),
    ("deepseek", "deepseek", "deepseek-chat", dict(input_tokens=7_777, cache_read_tokens=1_111, output_tokens=333)),
])
def test_usage_conversion_agrees_with_genai_prices_own_calculation(otel_provider, catalog_provider, model, usage):
    # genai-prices' Usage has the GenAI conventions' semantics too (input_tokens includes cache
    # reads and writes); its own calc_price is an independent check of the conversion.
    from genai_prices import Usage, calc_price

    when = "2026-09-01T12:00:00Z"
    call = priced(when=when, provider=otel_provider, response_model=model, **usage)
    reference = calc_price(
        Usage(**{k: v for k, v in usage.items() if k != "reasoning_tokens"}), model, provider_id=catalog_provider,
        genai_request_timestamp=datetime.fromisoformat(when))
    assert call.cost == reference.total_price
