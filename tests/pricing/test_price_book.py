"""The price book: its format, its prices, and errors that point at the line."""
import hashlib
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from llmledger.processor.pricing import PriceBook, PriceBookError, Pricer
from llmledger.processor.record import LlmCall

EXAMPLE_BOOK = Path(__file__).resolve().parents[2] / "deploy" / "price-book.example.yaml"


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


def priced(pricer: Pricer, *, when: str = "2026-09-01T12:00:00Z", **fields) -> LlmCall:
    call = LlmCall(timestamp_ns=ns(when), trace_id="t", span_id="s", usage_reported=True, **fields)
    pricer.price(call)
    return call


def book_pricer(text: str) -> Pricer:
    return Pricer(PriceBook.from_text(text, "book.yaml"))


def error_of(text: str) -> str:
    with pytest.raises(PriceBookError) as caught:
        PriceBook.from_text(text, "price-book.yaml")
    return str(caught.value)


# -- Numbers are exact ---------------------------------------------------------------------------

def test_yaml_numbers_become_decimals_without_passing_through_float():
    pricer = book_pricer("models:\n  - match: house-model\n    prices: {input: 0.1, output: 0.2, cache_read: 0.15}\n")
    call = priced(pricer, response_model="house-model", input_tokens=1_000_000, output_tokens=1_000_000)
    # 1,000,000 x 0.1 / 1M + 1,000,000 x 0.2 / 1M = 0.3 exactly (as floats, 0.1 + 0.2 != 0.3)
    assert call.cost == Decimal("0.3")
    assert call.cost_details == {"input": Decimal("0.1"), "output": Decimal("0.2")}
    entry = pricer.price_book.models[0]
    assert str(entry.card.cache_read.base) == "0.15"  # float(0.15) would print 0.1499999999999999944...
    assert call.price_source == "price_book"


def test_quoted_numbers_and_underscores_are_numbers_too():
    pricer = book_pricer('models:\n  - match: m\n    prices: {input: "0.15", output: 1_000}\n')
    call = priced(pricer, response_model="m", input_tokens=2_000, output_tokens=10)
    assert call.cost == Decimal("0.0103")  # 2,000 x 0.15 / 1M + 10 x 1,000 / 1M


# -- Matching and history ---------------------------------------------------------------------

def test_fine_tuned_models_match_by_glob_and_provider():
    pricer = Pricer(PriceBook.load(EXAMPLE_BOOK))
    call = priced(pricer, provider="openai", response_model="ft:gpt-4o-mini-2024-07-18:acme::9xYz",
                  input_tokens=10_000, cache_read_tokens=8_000, output_tokens=1_000)
    assert call.cost_details == {
        "input": Decimal("0.0006"),        # 2,000 x 0.30 / 1M
        "cache_read": Decimal("0.0012"),   # 8,000 x 0.15 / 1M
        "output": Decimal("0.0012"),       # 1,000 x 1.20 / 1M
    }
    assert call.cost == Decimal("0.003")
    digest = hashlib.sha256(EXAMPLE_BOOK.read_bytes()).hexdigest()[:12]
    assert call.price_version == f"price-book {digest} ft:gpt-4o-mini-2024-07-18:acme:* always provider=openai"
    # Another organisation's fine-tune is not this entry's.
    other = priced(pricer, provider="openai", response_model="ft:gpt-4o-mini-2024-07-18:globex::1",
                   input_tokens=10_000, output_tokens=1_000)
    assert "acme" not in other.price_version


def test_price_history_picks_the_entry_in_force_at_the_calls_own_time(tmp_path):
    book_file = tmp_path / "book.yaml"
    shutil.copy(EXAMPLE_BOOK, book_file)
    pricer = Pricer(PriceBook.load(book_file))
    usage = dict(provider="aws.bedrock", response_model="claude-sonnet-4-20250514",
                 input_tokens=10_000, output_tokens=1_000)
    # Newest first, so a cached answer for one period must not leak into another.
    in_2026 = priced(pricer, when="2026-02-01T00:00:00Z", **usage)
    assert in_2026.cost == Decimal("0.036")  # 10,000 x 2.40 / 1M + 1,000 x 12.00 / 1M
    assert in_2026.price_version.endswith(" claude-sonnet-4-20250514 2026-01-01 provider=aws.bedrock")
    in_2025 = priced(pricer, when="2025-07-01T00:00:00Z", **usage)
    assert in_2025.cost == Decimal("0.0405")  # 10,000 x 2.70 / 1M + 1,000 x 13.50 / 1M
    assert in_2025.price_version.endswith(" claude-sonnet-4-20250514 2025-06-01 provider=aws.bedrock")
    # Before the first entry the catalog's Bedrock list price applies: 3 in / 15 out.
    before = priced(pricer, when="2025-05-31T23:59:59Z", **usage)
    assert before.cost == Decimal("0.045")  # 10,000 x 3 / 1M + 1,000 x 15 / 1M
    assert before.price_source == "catalog"
    # An entry for one provider does not price the same model elsewhere.
    direct = priced(pricer, when="2026-02-01T00:00:00Z", **{**usage, "provider": "anthropic"})
    assert direct.price_source == "catalog" and direct.cost == Decimal("0.045")


def test_a_price_change_in_the_middle_of_a_day():
    pricer = book_pricer(
        "models:\n"
        "  - {match: house-model, prices: {input: 1.00, output: 2.00}}\n"
        "  - {match: house-model, effective_from: 2026-03-01T12:00:00Z, prices: {input: 0.50, output: 1.00}}\n")
    usage = dict(response_model="house-model", input_tokens=1_000, output_tokens=1_000)
    assert priced(pricer, when="2026-03-01T11:59:59Z", **usage).cost == Decimal("0.003")  # 1,000 x 1 / 1M + 1,000 x 2 / 1M
    assert priced(pricer, when="2026-03-01T12:00:00Z", **usage).cost == Decimal("0.0015")  # 1,000 x 0.5 / 1M + 1,000 x 1 / 1M
    assert priced(pricer, when="2026-03-01T11:00:00Z", **usage).cost == Decimal("0.003")


def test_an_exact_name_beats_a_glob_listed_before_it():
    pricer = book_pricer(
        "models:\n"
        "  - {match: 'house-*', prices: {input: 1, output: 1}}\n"
        "  - {match: house-model, prices: {input: 2, output: 2}}\n")
    assert priced(pricer, response_model="house-model", input_tokens=1_000, output_tokens=0).cost == Decimal("0.002")
    assert priced(pricer, response_model="house-other", input_tokens=1_000, output_tokens=0).cost == Decimal("0.001")


def test_gpu_hour_amortization():
    pricer = Pricer(PriceBook.load(EXAMPLE_BOOK))
    # 2.40 USD/GPU-hour x 1,000,000 / (3,000,000 tokens/GPU-hour x 0.6 utilization) = 1.333333 per 1M (6 places)
    call = priced(pricer, provider="vllm", response_model="llama-3.3-70b-onprem",
                  input_tokens=1_000_000, output_tokens=500_000)
    assert call.cost_details == {
        "input": Decimal("1.333333"),      # 1,000,000 x 1.333333 / 1M
        "output": Decimal("0.6666665"),    # 500,000 x 1.333333 / 1M
    }
    assert call.cost == Decimal("1.9999995")


def test_long_context_step_in_the_book():
    pricer = Pricer(PriceBook.load(EXAMPLE_BOOK))
    short = priced(pricer, response_model="acme-gemini-proxy/pro", input_tokens=100_000, output_tokens=1_000)
    assert short.cost == Decimal("0.135")  # 100,000 x 1.25 / 1M + 1,000 x 10 / 1M
    long = priced(pricer, response_model="acme-gemini-proxy/pro", input_tokens=250_000,
                  cache_read_tokens=50_000, output_tokens=1_000)
    assert long.cost_details == {
        "input": Decimal("0.5"),           # 200,000 x 2.50 / 1M
        "cache_read": Decimal("0.0125"),   # 50,000 x 0.25 / 1M
        "output": Decimal("0.015"),        # 1,000 x 15 / 1M
    }


def test_service_tier_multiplier_and_a_tier_the_entry_does_not_list():
    pricer = Pricer(PriceBook.load(EXAMPLE_BOOK))
    usage = dict(provider="openai", response_model="ft:gpt-4o-mini-2024-07-18:acme::x",
                 input_tokens=2_000, output_tokens=1_000)
    batch = priced(pricer, service_tier="batch", **usage)
    assert batch.cost == Decimal("0.0009")  # 2,000 x 0.30 x 0.5 / 1M + 1,000 x 1.20 x 0.5 / 1M
    assert batch.price_version.endswith(" batch x0.5")
    assert priced(pricer, service_tier="priority", **usage).unpriced


def test_per_request_price():
    pricer = Pricer(PriceBook.load(EXAMPLE_BOOK))
    call = priced(pricer, provider="perplexity", response_model="sonar-acme", input_tokens=1_000, output_tokens=500)
    assert call.cost_details == {
        "input": Decimal("0.001"),         # 1,000 x 1.00 / 1M
        "output": Decimal("0.0005"),       # 500 x 1.00 / 1M
        "request": Decimal("0.005"),       # one request
    }
    assert call.cost == Decimal("0.0065")


def test_discount_on_catalog_prices_with_its_own_history():
    pricer = book_pricer(
        "discounts:\n"
        "  - {provider: openai, percent_off: 15, effective_from: 2025-01-01}\n"
        "  - {provider: openai, percent_off: 20, effective_from: 2026-01-01}\n")
    usage = dict(provider="openai", response_model="gpt-4o", input_tokens=1_000, output_tokens=1_000)
    in_2025 = priced(pricer, when="2025-06-01T00:00:00Z", **usage)
    assert in_2025.cost_details == {
        "input": Decimal("0.002125"),      # 1,000 x 2.50 x 0.85 / 1M
        "output": Decimal("0.0085"),       # 1,000 x 10 x 0.85 / 1M
    }
    assert in_2025.price_source == "price_book"
    assert in_2025.price_version.endswith("-15% on genai-prices 0.2.3 openai/gpt-4o")
    assert priced(pricer, when="2026-06-01T00:00:00Z", **usage).cost == Decimal("0.01")  # 0.0125 x 0.80
    before = priced(pricer, when="2024-12-31T23:00:00Z", **usage)
    assert before.cost == Decimal("0.0125") and before.price_source == "catalog"  # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M
    other = priced(pricer, when="2025-06-01T00:00:00Z", provider="anthropic",
                   response_model="claude-3-5-haiku-20241022", input_tokens=1_000, output_tokens=0)
    assert other.cost == Decimal("0.0008") and other.price_source == "catalog"  # 1,000 x 0.80 / 1M


def test_empty_book_is_valid():
    assert PriceBook.from_text("", "empty.yaml").models == ()
    assert PriceBook.from_text("version: 1\nmodels: []\n").discounts == ()


# -- Errors name the file, the line and the key ------------------------------------------------

def test_unknown_key_names_file_line_and_path():
    text = ("version: 1\n"
            "models:\n"
            "  - match: a\n"
            "    prices: {input: 1}\n"
            "  - match: b\n"
            "    prices:\n"
            "      input: 1\n"
            "      outptu: 2\n")
    assert error_of(text) == ("price-book.yaml:8: models[1].prices: unknown key 'outptu' "
                              "(expected one of: input, cache_read, cache_write, output, reasoning, request)")


@pytest.mark.parametrize("body, expected", [
    ("    prices: {input: cheap}\n", "price-book.yaml:3: models[0].prices.input: expected a number, got the text 'cheap'"),
    ("    prices: {input: -0.5}\n", "price-book.yaml:3: models[0].prices.input: must be at least 0, got -0.5"),
    ("    prices: {input: .inf}\n", "price-book.yaml:3: models[0].prices.input: expected a finite number, got .inf"),
    ("    prices: [1, 2]\n", "price-book.yaml:3: models[0].prices: expected a mapping, got a list"),
    ("    effective_from: 2025-02-30\n    prices: {input: 1}\n",
     "price-book.yaml:3: models[0].effective_from: bad date '2025-02-30'"),
    ("    effective_from: 2025-02-01T10:00:00\n    prices: {input: 1}\n",
     "price-book.yaml:3: models[0].effective_from: date-time '2025-02-01T10:00:00' needs a UTC offset"),
    ("    prices: {input: 1}\n    prices: {input: 2}\n", "price-book.yaml:4: models[0]: key 'prices' appears twice"),
    ("    gpu_amortization: {gpu_hour_cost: 2, tokens_per_gpu_hour: 0}\n",
     "price-book.yaml:3: models[0].gpu_amortization.tokens_per_gpu_hour: must be at least 1, got 0"),
    ("    prices: {input: 1}\n    service_tiers: {bacth: 0.5}\n",
     "price-book.yaml:4: models[0].service_tiers: unknown key 'bacth' (expected one of: batch, flex, priority)"),
    ("    prices: {input: 1}\n    long_context: {above_input_tokens: 1000, prices: {cache_read: 1}}\n",
     "price-book.yaml:4: models[0].long_context.prices.cache_read: has no standard price"),
    ("    note: hi\n", "price-book.yaml:2: models[0]: give exactly one of 'prices' or 'gpu_amortization'"),
])
def test_bad_values_name_file_line_and_path(body, expected):
    assert error_of("models:\n  - match: m\n" + body).startswith(expected)


def test_bad_glob_is_an_error():
    assert error_of("models:\n  - match: 'ft:[abc*'\n    prices: {input: 1}\n") == (
        "price-book.yaml:2: models[0].match: bad pattern 'ft:[abc*': unclosed '[' at position 4")


def test_missing_match_and_duplicate_entries():
    assert error_of("models:\n  - prices: {input: 1}\n") == "price-book.yaml:2: models[0]: missing required key 'match'"
    duplicate = ("models:\n"
                 "  - {match: m, effective_from: 2025-01-01, prices: {input: 1}}\n"
                 "  - {match: m, effective_from: 2025-01-01, prices: {input: 2}}\n")
    assert error_of(duplicate).startswith("price-book.yaml:3: models: same match 'm'")
    assert "line 2" in error_of(duplicate)


def test_discount_errors():
    assert error_of("discounts:\n  - {provider: openai, percent_off: 120}\n") == (
        "price-book.yaml:2: discounts[0].percent_off: must be at most 100, got 120")
    assert error_of("discounts:\n  - {percent_off: 10}\n") == (
        "price-book.yaml:2: discounts[0]: a discount needs a 'provider', a 'match' or both")


def test_yaml_syntax_error_gives_file_and_line():
    message = error_of("models:\n  - match: m\n    prices: {input: 1\n  - match: n\n")
    assert message.startswith("price-book.yaml:4: YAML syntax error:")


def test_load_names_the_file_it_read(tmp_path):
    path = tmp_path / "team-prices.yaml"
    path.write_text("models:\n  - match: m\n    prices: {input: 1, ouput: 2}\n")
    with pytest.raises(PriceBookError, match=rf"^{path}:3: models\[0\]\.prices: unknown key 'ouput'"):
        PriceBook.load(path)
    with pytest.raises(PriceBookError, match="cannot read the price book"):
        PriceBook.load(tmp_path / "missing.yaml")
