"""The semantic cache: a stored answer for a question asked in other words.

Only the last user message may differ, and only in wording: everything else (partition,
provider, endpoint, model, system prompt, earlier turns, tools, parameters) must match
exactly, because it all goes into the bucket the candidates are looked up in. Within a
bucket the nearest stored question by cosine similarity wins if it reaches the
threshold. Messages with images or other non-text parts are never matched loosely, and neither
are the same words in another order ("convert miles to km" / "convert km to miles"):
to an embedding that averages its words they look identical.

The embedder is pluggable (`Embedder`: texts -> unit vectors). The default,
`WordLlamaEmbedder`, runs offline from the 256-dimension weights and the tokenizer that
ship inside the `wordllama` wheel, loaded directly (its own loader would try a download
for the tokenizer).
"""
from __future__ import annotations

import re
import threading
from typing import Any, Mapping, Protocol, Sequence

DEFAULT_THRESHOLD = 0.98
_WORD = re.compile(r"\w+")
_PLACEHOLDER = "\u0000question\u0000"


class Embedder(Protocol):
    dimensions: int

    def embed(self, texts: Sequence[str]) -> Any:
        """An array of shape (len(texts), dimensions) of unit-length float32 vectors."""


class WordLlamaEmbedder:
    """wordllama's bundled l2_supercat 256-d token embeddings, mean-pooled; no network."""

    dimensions = 256
    WEIGHTS = "weights/l2_supercat_256.safetensors"
    TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"

    def __init__(self) -> None:
        from importlib import resources

        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference

        package = resources.files("wordllama")
        with resources.as_file(package / self.WEIGHTS) as weights, safe_open(str(weights), framework="np") as f:
            embedding = f.get_tensor("embedding.weight")
        with resources.as_file(package / self.TOKENIZER) as tokenizer_file:
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._model = WordLlamaInference(embedding, tokenizer)
        self._lock = threading.Lock()  # the tokenizer's padding settings are shared state

    def embed(self, texts: Sequence[str]):
        with self._lock:
            return self._model.embed(list(texts), norm=True)


def split_question(endpoint: str, body: Mapping[str, Any]) -> tuple[str, dict] | None:
    """(the last user message's text, the body with it blanked out), or None when the
    request has no plain-text question to match loosely."""
    if endpoint in ("/chat/completions", "/v1/messages"):
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            return None
        last = messages[-1]
        if last.get("role") != "user":
            return None
        text = _text_of(last.get("content"), ("text",))
        if text is None:
            return None
        context = dict(body)
        context["messages"] = [*messages[:-1], {**last, "content": _PLACEHOLDER}]
        return text, context
    if endpoint == "/responses":
        given = body.get("input")
        if isinstance(given, str):
            return given, {**body, "input": _PLACEHOLDER}
        if isinstance(given, list) and given and isinstance(given[-1], dict) and given[-1].get("role") == "user":
            text = _text_of(given[-1].get("content"), ("input_text", "text"))
            if text is None:
                return None
            return text, {**body, "input": [*given[:-1], {**given[-1], "content": _PLACEHOLDER}]}
        return None
    if endpoint == "/completions" and isinstance(body.get("prompt"), str):
        return body["prompt"], {**body, "prompt": _PLACEHOLDER}
    if endpoint in (":generateContent", ":streamGenerateContent"):  # Gemini: contents of text parts
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents or not isinstance(contents[-1], dict):
            return None
        last = contents[-1]
        parts = last.get("parts")
        if last.get("role", "user") != "user" or not isinstance(parts, list) or not parts:
            return None
        if not all(isinstance(p, dict) and set(p) == {"text"} and isinstance(p["text"], str) for p in parts):
            return None
        context = {**body, "contents": [*contents[:-1], {**last, "parts": _PLACEHOLDER}]}
        return "\n".join(p["text"] for p in parts), context
    return None


def _text_of(content: Any, text_types: tuple[str, ...]) -> str | None:
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        return None
    pieces = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in text_types or not isinstance(part.get("text"), str):
            return None  # an image, a file, a tool result: not a plain question
        pieces.append(part["text"])
    return "\n".join(pieces)


class SemanticIndex:
    """Finds the stored question nearest to a new one, within one bucket of a backend."""

    def __init__(self, backend, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD):
        if not 0 < threshold <= 1:
            raise ValueError(f"the semantic threshold is a cosine similarity in (0, 1], got {threshold}")
        self.backend = backend
        self.embedder = embedder
        self.threshold = threshold

    def vector(self, text: str):
        return self.embedder.embed([text])[0]

    def nearest(self, bucket: str, vector, text: str) -> tuple[str, float] | None:
        """The stored question most like `text` at or above the threshold: (entry key, similarity)."""
        import numpy as np

        stored = [item for item in self.backend.vectors(bucket) if len(item[2]) == 4 * len(vector)]
        if not stored:
            return None
        matrix = np.frombuffer(b"".join(v for _, _, v in stored), dtype=np.float32).reshape(len(stored), -1)
        scores = matrix @ vector
        for best in np.argsort(-scores):
            score = float(scores[best])
            if score < self.threshold:
                return None
            key, question, _ = stored[best]
            if not reordered(question, text):
                return key, score
        return None

    def add(self, bucket: str, key: str, text: str, vector, ttl: float) -> None:
        import numpy as np

        self.backend.add_vector(bucket, key, text, np.asarray(vector, dtype=np.float32).tobytes(), ttl)


def reordered(first: str, second: str) -> bool:
    """The same words in another order: a different question that averaged embeddings cannot tell apart."""
    a, b = _WORD.findall(first.lower()), _WORD.findall(second.lower())
    return a != b and sorted(a) == sorted(b)
