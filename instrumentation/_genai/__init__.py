"""The layer every llmledger SDK instrumentor is built on (OpenAI, Anthropic, …).

One small module per job; each module's docstring documents its API:

- `call`       `Telemetry` (tracer + metrics + settings of one instrumentor) and
               `GenAICall`: start the CLIENT span `{operation} {model}` with the
               request attributes and the current attribution, fill in the
               response, `end()` / `fail(exc)` exactly once, metrics included.
- `usage`      `Usage`: token counts in the conventions' semantics (input includes
               cache read/write, output includes reasoning); never estimated.
- `streams`    `SyncStreamProxy` / `AsyncStreamProxy` (`sync_stream`: a plain generator's
               own generator instead): pass a stream through and end its call on every
               way a stream can end.
- `methods`    `MethodPatches`: the wrappers for SDKs patched at their public
               methods (Mistral, Cohere), sync, async and async generators.
- `metrics`    `GenAIMetrics`: the three GenAI client histograms with the spec's
               bucket boundaries.
- `hook`       `before_send(call, exchange)`: the one point where every patch meets
               routing, the budget guard and the response cache (`stainless`: the
               exchange of the OpenAI and Anthropic SDKs; Google Gen AI's is in
               `google_genai.exchange`);
- `cache`, `routing`  the response cache and the routing rules behind the hook.
- `settings`   `Settings.from_env()`: content capture, OpenAI include-usage, …
- `content`    clip and serialise opt-in message content.
- `server`     `server_of(url)`: server.address and server.port of a base URL, parsed once.
- `patching`   `wrap` / `unwrap` / `foreign_wrapper`: wrapt patches that skip
               missing targets and spot another instrumentation's patches.
- `safety`     `report_internal_error`: log our own failures, never raise them.
- `instrumentor` `GenAIInstrumentor`: the base of each SDK's instrumentor; skips an
               absent SDK quietly, names the supported range for a wrong version.
- `delivery`   one warning when spans go nowhere (no SDK, exporter off, refused).
- `attributes` the attribute and metric names.

Nothing here imports an LLM SDK or an HTTP library.
"""
from . import attributes
from .call import GenAICall, Telemetry
from .instrumentor import GenAIInstrumentor
from .patching import foreign_wrapper, unwrap, wrap
from .safety import report_internal_error
from .settings import Settings, SettingsError
from .streams import AsyncStreamProxy, SyncStreamProxy, sync_stream
from .usage import Usage

__all__ = [
    "attributes",
    "AsyncStreamProxy",
    "GenAICall",
    "GenAIInstrumentor",
    "Settings",
    "SettingsError",
    "SyncStreamProxy",
    "sync_stream",
    "Telemetry",
    "Usage",
    "foreign_wrapper",
    "report_internal_error",
    "unwrap",
    "wrap",
]
