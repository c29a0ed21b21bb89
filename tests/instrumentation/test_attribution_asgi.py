"""AttributionMiddleware: request headers become the attribution of everything the request does."""
from __future__ import annotations

import asyncio
import logging

import anthropic
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from fake_anthropic import FakeAnthropic
from llmledger.instrumentation import AttributionMiddleware, current_attributes
from llmledger.instrumentation._genai import Settings
from llmledger.instrumentation.anthropic import AnthropicInstrumentor


async def show_attribution(request):
    return JSONResponse(dict(current_attributes()))


def show_attribution_sync(request):
    # Starlette runs sync endpoints in a worker thread; the context must follow.
    return JSONResponse(dict(current_attributes()))


async def stream_attribution(request):
    async def body():
        for _ in range(3):
            yield (repr(sorted(current_attributes().items())) + "\n").encode()

    return StreamingResponse(body(), media_type="text/plain")


def make_client(**middleware_options) -> TestClient:
    app = Starlette(
        routes=[
            Route("/", show_attribution),
            Route("/sync", show_attribution_sync),
            Route("/stream", stream_attribution),
        ],
        middleware=[Middleware(AttributionMiddleware, **middleware_options)],
    )
    return TestClient(app)


def test_default_headers_set_attribution_for_the_request():
    client = make_client()
    response = client.get("/", headers={"X-App-ID": "shop", "X-User-ID": "u-7", "X-Tenant-ID": "acme"})
    assert response.json() == {"llmledger.app": "shop", "user.id": "u-7", "llmledger.tenant": "acme"}


def test_sync_endpoints_see_the_attribution_too():
    response = make_client().get("/sync", headers={"X-User-ID": "u-8"})
    assert response.json() == {"user.id": "u-8"}


def test_streamed_response_bodies_are_produced_inside_the_scope():
    response = make_client().get("/stream", headers={"X-User-ID": "u-9", "X-Feature": "chat"})
    expected = repr([("llmledger.feature", "chat"), ("user.id", "u-9")])
    assert response.text.splitlines() == [expected] * 3


def test_websocket_connections_are_attributed_too():
    async def echo_attribution(websocket):
        await websocket.accept()
        await websocket.send_json(dict(current_attributes()))
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws", echo_attribution)], middleware=[Middleware(AttributionMiddleware)])
    with TestClient(app).websocket_connect("/ws", headers={"X-User-ID": "u-10"}) as websocket:
        assert websocket.receive_json() == {"user.id": "u-10"}


def test_request_without_mapped_headers_has_no_attribution():
    assert make_client().get("/", headers={"X-Other": "x"}).json() == {}


def test_requests_do_not_leak_into_each_other():
    client = make_client()
    assert client.get("/", headers={"X-User-ID": "first"}).json() == {"user.id": "first"}
    assert client.get("/").json() == {}


def test_custom_header_map_with_tags():
    client = make_client(header_map={"X-Customer": "tenant", "X-Plan": "tag.plan"})
    response = client.get("/", headers={"X-Customer": "acme", "X-Plan": "gold", "X-User-ID": "ignored"})
    assert response.json() == {"llmledger.tenant": "acme", "llmledger.tag.plan": "gold"}


def test_invalid_header_value_is_ignored_and_logged_not_failed(caplog):
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="llmledger.instrumentation.asgi"):
        response = client.get("/", headers={"X-User-ID": "u" * 300, "X-App-ID": "shop"})
    assert response.status_code == 200
    assert response.json() == {"llmledger.app": "shop"}
    assert "X-User-ID" in caplog.text and "256" in caplog.text


@pytest.mark.parametrize(
    ("header_map", "message"),
    [
        ({"X-Who": "customer"}, "unknown attribution field 'customer'"),
        ({"X-Plan": "tag.bad name"}, "tag name 'bad name'"),
        ({"": "user"}, "invalid header name"),
    ],
)
def test_bad_header_map_is_refused_at_startup(header_map, message):
    with pytest.raises(ValueError, match=message):
        AttributionMiddleware(show_attribution, header_map=header_map)


def test_lifespan_and_other_scopes_pass_through():
    events = []

    async def app(scope, receive, send):
        events.append((scope["type"], dict(current_attributes())))

    asyncio.run(AttributionMiddleware(app)({"type": "lifespan"}, None, None))
    assert events == [("lifespan", {})]


@pytest.fixture
def llm_app(otel):
    """A Starlette app whose endpoints call Anthropic (the local fake), instrumented."""
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider,
                            settings=Settings())
    with FakeAnthropic() as fake:
        ask = {"model": "claude-sonnet-4-0", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}

        async def ask_async(request):
            client = anthropic.AsyncAnthropic(api_key="k", base_url=fake.base_url, max_retries=0)
            await client.messages.create(**ask)
            async with client.messages.stream(**ask) as stream:
                await stream.until_done()
            return JSONResponse({"ok": True})

        def ask_sync(request):
            anthropic.Anthropic(api_key="k", base_url=fake.base_url, max_retries=0).messages.create(**ask)
            return JSONResponse({"ok": True})

        async def ask_streaming(request):
            client = anthropic.AsyncAnthropic(api_key="k", base_url=fake.base_url, max_retries=0)

            async def body():  # the LLM call happens while the response body is being sent
                async with client.messages.stream(**ask) as stream:
                    async for text in stream.text_stream:
                        yield text.encode()

            return StreamingResponse(body(), media_type="text/plain")

        app = Starlette(
            routes=[Route("/async", ask_async), Route("/sync", ask_sync), Route("/streaming", ask_streaming)],
            middleware=[Middleware(AttributionMiddleware)],
        )
        yield TestClient(app)
    instrumentor.uninstrument()


def test_request_identity_reaches_every_llm_span_beneath_it(otel, llm_app):
    llm_app.get("/async", headers={"X-App-ID": "shop", "X-User-ID": "alice"})
    llm_app.get("/sync", headers={"X-App-ID": "shop", "X-User-ID": "bob"})
    llm_app.get("/streaming", headers={"X-App-ID": "shop", "X-User-ID": "carol"})
    llm_app.get("/sync")

    spans = otel.spans()
    assert [span.name for span in spans] == ["chat claude-sonnet-4-0"] * 5
    assert [(span.attributes.get("llmledger.app"), span.attributes.get("user.id")) for span in spans] == [
        ("shop", "alice"), ("shop", "alice"), ("shop", "bob"), ("shop", "carol"), (None, None),
    ]
