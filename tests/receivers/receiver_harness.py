"""Real receivers on 127.0.0.1 (uvicorn + grpc.aio on one event loop, as in the service)
in front of a pipeline that only records what it is given, and SDK spans to send them."""
from __future__ import annotations

import asyncio
import threading

import uvicorn
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from starlette.applications import Starlette

from llmledger.processor.pipeline import Backpressure, SubmitResult
from llmledger.processor.receivers.otlp_grpc import build_grpc_server
from llmledger.processor.receivers.otlp_http import otlp_http_routes
from llmledger.processor.receivers.signals import TRACES


class RecordingPipeline:
    """Stands in for the real pipeline: records each submitted request, and can be told to
    refuse the next requests with Backpressure or to report rejected spans."""

    def __init__(self, signal=TRACES):
        self.signal = signal  # whose requests it takes: their items are what it counts
        self.submitted = []  # (export request, principal)
        self.calls = 0
        self.refusals_left = 0
        self.retry_after = 1
        self.rejected_spans = 0
        self.error_message = ""

    def refuse_next(self, count: int, retry_after: int = 1) -> None:
        self.refusals_left = count
        self.retry_after = retry_after

    async def submit(self, request, principal=None) -> SubmitResult:
        self.calls += 1
        if self.refusals_left > 0:
            self.refusals_left -= 1
            raise Backpressure("the log is full", retry_after=self.retry_after)
        self.submitted.append((request, principal))
        items = self.signal.count(request)
        return SubmitResult(items - self.rejected_spans, self.rejected_spans, self.error_message)

    @property
    def requests(self):
        return [request for request, _ in self.submitted]


class Receivers:
    """Both receivers serving one pipeline from an event loop on a background thread."""

    def __init__(self, pipeline, **options):
        self.pipeline = pipeline
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="receivers", daemon=True)
        self.http_url = ""
        self.grpc_address = ""

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=60)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=60)
        self._loop.close()

    async def _start(self) -> None:
        self._grpc, grpc_port = build_grpc_server(self.pipeline, host="127.0.0.1", port=0, **self._options)
        await self._grpc.start()
        self.grpc_address = f"127.0.0.1:{grpc_port}"

        app = Starlette(routes=otlp_http_routes(self.pipeline, **self._options))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
        )
        self._http = uvicorn.Server(config)
        self._http_task = asyncio.create_task(self._http.serve())
        while not self._http.started:
            if self._http_task.done():
                await self._http_task
            await asyncio.sleep(0.01)
        port = self._http.servers[0].sockets[0].getsockname()[1]
        self.http_url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        self._http.should_exit = True
        await self._http_task
        await self._grpc.stop(None)


def make_spans(count: int = 2, *, padding: int = 0):
    """Finished SDK spans with the kinds of content an LLM span carries (attributes of every
    type, an event, a link, an error status); `padding` adds a string attribute of that size."""
    memory = InMemorySpanExporter()
    resource = Resource.create({"service.name": "checkout", "deployment.environment.name": "prod"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("llmledger.tests", "1.0")
    with tracer.start_as_current_span("request", kind=SpanKind.SERVER) as parent:
        for index in range(count):
            link = Link(parent.get_span_context(), {"link.reason": "retry"})
            name = f"chat gpt-4o-mini #{index}"
            with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, links=[link]) as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                span.set_attribute("gen_ai.usage.input_tokens", 1200 + index)
                span.set_attribute("gen_ai.usage.output_tokens", 300)
                span.set_attribute("gen_ai.request.temperature", 0.25)
                span.set_attribute("gen_ai.request.stream", True)
                span.set_attribute("gen_ai.response.finish_reasons", ["stop", "length"])
                if padding:
                    span.set_attribute("padding", "p" * padding)
                span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "hello"})
                if index % 2:
                    span.set_status(Status(StatusCode.ERROR, "rate limited"))
    provider.shutdown()
    return memory.get_finished_spans()
