"""`llmledger prices`: list, show, test and check."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmledger.processor.cli import prices

EXAMPLE_BOOK = Path(__file__).resolve().parents[2] / "deploy" / "price-book.example.yaml"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command the way the `llmledger` CLI does: through `register` on its subparsers."""
    parser = argparse.ArgumentParser(prog="llmledger")
    prices.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prices", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_filters_by_provider_and_glob(capsys):
    code, out, _ = run(capsys, "list", "--provider", "anthropic", "--match", "claude-3-5-haiku*")
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("catalog")]
    assert rows == [["catalog", "anthropic", "claude-3-5-haiku-latest", "0.8", "0.08", "1", "4"]]


def test_list_shows_price_book_entries_in_force(capsys):
    code, out, _ = run(capsys, "list", "--price-book", str(EXAMPLE_BOOK), "--match", "claude-sonnet-4-2025*",
                       "--format", "json")
    assert code == 0
    book_rows = [row for row in json.loads(out)["models"] if row["source"] == "price_book"]
    # Of the two entries for this model, the one from 2026-01-01 is in force now.
    assert [(row["model"], row["input"], row["output"]) for row in book_rows] == [
        ("claude-sonnet-4-20250514", "2.4", "12")]


def test_show_every_rate_and_the_tiers(capsys):
    code, out, _ = run(capsys, "show", "gpt-4o-mini-2024-07-18", "--at", "2026-09-01")
    assert code == 0
    lines = out.splitlines()
    assert "version      genai-prices 0.2.3 openai/gpt-4o-mini" in lines
    assert any(line.split() == ["input", "0.15"] for line in lines)
    assert any(line.split() == ["cache_read", "0.075"] for line in lines)
    assert any(line.split() == ["output", "0.6"] for line in lines)
    batch = next(line for line in lines if line.startswith("batch"))
    assert batch.split()[:3] == ["batch", "0.075", "0.3"] and "half-price rule" in batch
    priority = next(line for line in lines if line.startswith("priority"))
    assert "unpriced" in priority  # no catalog priority price before 2026-10-12


def test_show_long_context_as_json(capsys):
    code, out, _ = run(capsys, "show", "gemini-2.5-pro", "--provider", "gcp.gemini", "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert shown["rates"]["input"] == {"per_1m": "1.25", "long_context": [{"above_input_tokens": 200000, "per_1m": "2.5"}]}
    assert shown["rates"]["output"]["long_context"][0]["per_1m"] == "15"


def test_show_unknown_model_exits_1(capsys):
    code, out, err = run(capsys, "show", "no-such-model-xyz")
    assert code == 1 and out == ""
    assert "no price for model 'no-such-model-xyz'" in err


def test_test_prints_each_component_and_the_total(capsys):
    code, out, _ = run(capsys, "test", "claude-sonnet-4-20250514", "--provider", "anthropic", "--input", "10000",
                       "--cache-read", "6000", "--cache-write", "2000", "--output", "800")
    assert code == 0
    table = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:6]}
    assert table == {
        "input": "0.006",        # 2,000 x 3.00 / 1M
        "cache_read": "0.0018",  # 6,000 x 0.30 / 1M
        "cache_write": "0.0075", # 2,000 x 3.75 / 1M
        "output": "0.012",       # 800 x 15 / 1M
        "total": "0.0273",
    }
    assert "source   catalog" in out
    assert "version  genai-prices 0.2.3 anthropic/claude-sonnet-4-0" in out


def test_test_batch_tier_as_json(capsys):
    code, out, _ = run(capsys, "test", "gpt-4o-mini", "--input", "10000", "--cache-read", "4000", "--output", "500",
                       "--tier", "batch", "--at", "2026-11-01", "--format", "json")
    assert code == 0
    result = json.loads(out)
    # 6,000 x 0.075 / 1M + 4,000 x 0.075 / 1M + 500 x 0.30 / 1M
    assert result["cost"] == "0.0009"
    assert result["components"] == {"input": "0.00045", "cache_read": "0.0003", "output": "0.00015"}
    assert result["version"] == "genai-prices 0.2.3 openai/gpt-4o-mini batch"


def test_test_with_the_price_book(capsys):
    code, out, _ = run(capsys, "test", "llama-3.3-70b-onprem", "--input", "1000000", "--output", "500000",
                       "--price-book", str(EXAMPLE_BOOK), "--format", "json")
    assert code == 0
    assert json.loads(out)["cost"] == "1.9999995"  # 1,500,000 x 1.333333 / 1M
    assert json.loads(out)["source"] == "price_book"


def test_test_unknown_model_exits_1_with_the_reason(capsys):
    code, out, err = run(capsys, "test", "no-such-model-xyz", "--input", "10", "--output", "1")
    assert code == 1
    assert err.strip() == "error: no price for model 'no-such-model-xyz' in the price book or the catalog"


def test_bad_arguments_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "test", "gpt-4o", "--input", "-5", "--output", "1")
    assert exit_.value.code == 2
    assert "must not be negative" in capsys.readouterr().err


def test_check_accepts_a_good_book_and_rejects_a_bad_one(capsys, tmp_path):
    code, out, _ = run(capsys, "check", str(EXAMPLE_BOOK))
    assert code == 0 and out.startswith(f"ok: {EXAMPLE_BOOK}: 6 model entries, 1 discount rules")

    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - match: m\n    prices: {input: 1, outptu: 2}\n")
    code, out, err = run(capsys, "check", str(bad))
    assert code == 1
    assert err.startswith(f"error: {bad}:3: models[0].prices: unknown key 'outptu'")

    code, out, _ = run(capsys, "check", "--price-book", str(bad), "--format", "json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_runs_as_a_program():
    finished = subprocess.run(
        [sys.executable, "-m", "llmledger.processor.cli.prices", "test", "gpt-4o", "--provider", "openai",
         "--input", "1000", "--output", "1000", "--at", "2026-09-01"],
        capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    rows = [line.split() for line in finished.stdout.splitlines()]
    assert ["total", "0.0125"] in rows  # 1,000 x 2.50 / 1M + 1,000 x 10 / 1M
