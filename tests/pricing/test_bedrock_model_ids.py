"""Bedrock model ids as apps call them (inference profiles, ARNs) priced as the catalog's
model, each cost worked out by hand from AWS's published Bedrock prices per 1M tokens:
Claude Sonnet 4 3.00 in / 15.00 out; Claude Sonnet 4.5 3.00 / 15.00 through a global
profile and 3.30 / 16.50 in-region or through a geographic profile."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from llmledger.processor.pricing import Pricer
from llmledger.processor.pricing.model_ids import bedrock_names
from llmledger.processor.record import LlmCall

SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def bedrock_call(model: str) -> LlmCall:
    when = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    call = LlmCall(timestamp_ns=when, trace_id="t", span_id="s", usage_reported=True, provider="aws.bedrock",
                   server_address="bedrock-runtime.us-east-1.amazonaws.com", request_model=model,
                   input_tokens=1_000, output_tokens=1_000)
    Pricer(warn_unpriced=False).price(call)
    return call


def test_names_tried_for_a_profile_arn():
    arn = f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.{SONNET_4}"
    assert bedrock_names(arn) == [arn, f"eu.{SONNET_4}", SONNET_4]
    assert bedrock_names(f"global.{SONNET_4}") == [f"global.{SONNET_4}"]  # a global price is not the in-region one
    assert bedrock_names(SONNET_4) == [SONNET_4]


# Claude Sonnet 4: 1,000 × 3/1M + 1,000 × 15/1M = 0.018 however it is called.
@pytest.mark.parametrize("model", [
    SONNET_4,
    f"us.{SONNET_4}",
    f"ca.{SONNET_4}",  # a geography the catalog does not list for this model
    f"us-gov.{SONNET_4}",
    f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_4}",
    f"arn:aws:bedrock:ca-central-1:123456789012:inference-profile/ca.{SONNET_4}",
])
def test_profiles_and_arns_are_priced_as_the_model(model):
    call = bedrock_call(model)
    assert (call.unpriced, call.cost) == (False, Decimal("0.018"))


def test_global_and_geographic_profiles_keep_their_own_prices():
    # global: 1,000 × 3/1M + 1,000 × 15/1M = 0.018; regional: 1,000 × 3.30/1M + 1,000 × 16.50/1M = 0.0198
    assert bedrock_call(f"global.{SONNET_4_5}").cost == Decimal("0.018")
    assert bedrock_call(f"ca.{SONNET_4_5}").cost == Decimal("0.0198")
    assert bedrock_call(f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_4_5}").cost == Decimal("0.0198")


@pytest.mark.parametrize("model", [
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",  # names no model
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef012345",  # billed by the hour
])
def test_arns_that_name_no_model_stay_unpriced(model):
    call = bedrock_call(model)
    assert (call.unpriced, call.cost) == (True, None)
