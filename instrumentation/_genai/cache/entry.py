"""One stored answer: the provider's response body as it was sent, and what the hit span
needs to say about the call that produced it."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

FORMAT = 1


@dataclass
class CachedResponse:
    body: bytes  # the JSON body, or the server-sent events of a stream
    content_type: str  # application/json | text/event-stream
    usage: dict[str, int] = field(default_factory=dict)  # Usage fields of the original call
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    source_trace_id: str = ""
    source_span_id: str = ""
    stored_at: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        values = asdict(self)
        values["body"] = self.body.decode("utf-8")
        return json.dumps({"format": FORMAT, **values}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> "CachedResponse | None":
        """None for an entry of another format (written by another version)."""
        try:
            values = json.loads(data)
            if values.pop("format", None) != FORMAT:
                return None
            values["body"] = values["body"].encode("utf-8")
            return cls(**values)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
