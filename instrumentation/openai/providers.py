"""Who serves a call made with the OpenAI SDK, from the server it goes to.

The OpenAI SDK talks to many OpenAI-compatible services; `gen_ai.provider.name`
follows `server.address` so each call is priced with the right provider's
prices. Names are the GenAI conventions' well-known values where one exists.
An unknown host is taken to be OpenAI (gateways and proxies in front of it);
`LLMLEDGER_OPENAI_PROVIDER` overrides the guess.
"""
from __future__ import annotations

OPENAI = "openai"

# Exact host names.
_BY_HOST = {
    "api.openai.com": OPENAI,
    "api.groq.com": "groq",
    "api.together.xyz": "together_ai",
    "api.together.ai": "together_ai",
    "api.deepseek.com": "deepseek",
    "openrouter.ai": "openrouter",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "api.fireworks.ai": "fireworks",
    "api.cerebras.ai": "cerebras",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "api.anthropic.com": "anthropic",
    "models.inference.ai.azure.com": "azure.ai.inference",
    "models.github.ai": "azure.ai.inference",
}

# Host name endings, for services with one host per customer resource.
_BY_SUFFIX = (
    (".openai.azure.com", "azure.ai.openai"),
    (".cognitiveservices.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    (".amazonaws.com", "aws.bedrock"),
)

# A model server on this machine, told apart by the port its software uses by default.
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "host.docker.internal"}
_BY_LOCAL_PORT = {
    11434: "ollama",
    8000: "vllm",
    1234: "lm_studio",
    8080: "llama_cpp",
}


def provider_for(host: str, port: int | None) -> str:
    host = host.lower().rstrip(".")
    known = _BY_HOST.get(host)
    if known is not None:
        return known
    for suffix, provider in _BY_SUFFIX:
        if host.endswith(suffix):
            return provider
    if host in _LOCAL_HOSTS and port in _BY_LOCAL_PORT:
        return _BY_LOCAL_PORT[port]
    return OPENAI
