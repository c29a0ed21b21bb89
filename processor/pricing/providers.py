"""Names: OTel `gen_ai.provider.name` values to catalog provider ids, and service tiers."""
from __future__ import annotations

# gen_ai.provider.name (and a few common spellings) -> genai-prices provider id.
# Needed because the catalog's own fuzzy matching gets some of these wrong
# (it reads "azure.ai.openai" as OpenAI, and does not know "x_ai").
CATALOG_PROVIDER_IDS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "google": "google",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "azure": "azure",
    "groq": "groq",
    "deepseek": "deepseek",
    "mistral_ai": "mistral",
    "mistral": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "together_ai": "together",
    "together": "together",
    "fireworks": "fireworks",
    "fireworks_ai": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
}

# Inference servers people run on their own hardware. A catalog price (what some
# cloud host charges for the same open weights) is not what such a call costs, so
# these are priced by the price book only (e.g. its GPU-hour amortization).
SELF_HOSTED_PROVIDERS = frozenset({"vllm", "ollama", "llama_cpp", "llama.cpp", "lm_studio", "sglang", "tgi", "localai"})

# Service tier spellings that mean the standard price.
STANDARD_TIERS = frozenset({"", "default", "auto", "standard"})

# Tiers a price book entry may carry a multiplier for.
BOOK_TIERS = ("batch", "flex", "priority")


def normalize_tier(service_tier: str) -> str:
    """The tier name pricing works with: "" for the standard price, else the tier in lowercase."""
    tier = service_tier.strip().lower()
    return "" if tier in STANDARD_TIERS else tier
