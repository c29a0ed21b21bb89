"""The Bedrock patch: botocore's `BaseClient._make_api_call`, which every operation of
every AWS client goes through with its operation name and parameters.

For a `bedrock-runtime` client and one of the four model-call operations, the call gets
a span; every other AWS call costs a dict lookup. The parameters are the documented
ones (`modelId`, `messages`, `inferenceConfig`, `body`, ...); the result is botocore's
parsed dict, whose streams (`stream` of ConverseStream, `body` of
InvokeModelWithResponseStream) are replaced by the `_genai` stream proxies, and whose
InvokeModel `body` is read and replaced by an identical, unread StreamingBody.
"""
from __future__ import annotations

import io
import json
from typing import Any, Callable

from .._genai import GenAICall, SyncStreamProxy, Telemetry, report_internal_error
from .._genai import attributes as attr
from .._genai.server import server_of
from .._genai.hook import send_arguments
from . import bodies, converse

PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
REQUEST_SERVICE_TIER = "aws.bedrock.request.service_tier"
RESPONSE_SERVICE_TIER = "aws.bedrock.response.service_tier"
# Latency-optimized inference has prices of its own: recorded as a tier, so that such a
# call is never priced at the standard rate (the catalog has no such tier: unpriced).
LATENCY_OPTIMIZED = "latency-optimized"

_OPERATIONS = frozenset({"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"})
_STREAMED = frozenset({"ConverseStream", "InvokeModelWithResponseStream"})


def set_model_id(args: tuple, kwargs: dict, model: str) -> tuple[tuple, dict]:
    """The hook's `ModelSetter`: `_make_api_call(operation_name, api_params)`."""
    return (args[0], {**args[1], "modelId": model}, *args[2:]), kwargs


class ApiCallPatch:
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.enabled = True  # False when another instrumentation traces Bedrock
        self._is_bedrock: dict[type, bool] = {}  # client class -> is it bedrock-runtime
        # Run once by the first traced call (see the instrumentor).
        self.check_at_first_call: Callable[[], None] | None = None

    def traced_api_call(self, wrapped, instance, args, kwargs):
        call = self._start(instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        args, kwargs = send_arguments(call, args, kwargs, set_model_id, body=args[1] if len(args) > 1 else None)
        operation = args[0]
        result = call.send(wrapped, args, kwargs)
        return self._finish(call, operation, result)

    # --- before the call ----------------------------------------------------

    def _start(self, client: Any, args: tuple, kwargs: dict) -> GenAICall | None:
        try:
            operation = args[0] if args else kwargs.get("operation_name")
            if operation not in _OPERATIONS or not self._bedrock(client) or not self.enabled:
                return None
            if self.check_at_first_call is not None:
                check, self.check_at_first_call = self.check_at_first_call, None
                check()
                if not self.enabled:
                    return None
            params = args[1] if len(args) > 1 else kwargs.get("api_params")
            model = str(params.get("modelId") or "")
            address, port = server_of(client.meta.endpoint_url)
            attributes = {
                attr.PROVIDER_NAME: PROVIDER,
                attr.SERVER_ADDRESS: address,
                attr.SERVER_PORT: port,
                attr.REQUEST_MODEL: model,
            }
            if operation.startswith("Converse"):
                attributes[attr.OPERATION_NAME] = attr.OPERATION_CHAT
                converse.add_request_attributes(attributes, params)
                tier = (params.get("serviceTier") or {}).get("type")
                latency = (params.get("performanceConfig") or {}).get("latency")
                request_body = None
            else:
                request_body = bodies.decode(params.get("body"))
                attributes[attr.OPERATION_NAME] = bodies.operation(model, request_body)
                bodies.add_request_attributes(attributes, model, request_body)
                tier, latency = params.get("serviceTier"), params.get("performanceConfigLatency")
            if latency == "optimized":
                tier = LATENCY_OPTIMIZED
            if attributes[attr.OPERATION_NAME] != attr.OPERATION_EMBEDDINGS:
                attributes[attr.REQUEST_STREAM] = operation in _STREAMED
            if isinstance(tier, str) and tier:
                attributes[REQUEST_SERVICE_TIER] = tier
            call = self.telemetry.start_call(attributes)
            if call.capture_content:
                if request_body is None:
                    call.capture_input(converse.input_messages(params))
                    call.capture_input(params.get("system"), attr.SYSTEM_INSTRUCTIONS)
                else:
                    call.capture_input(bodies.input_messages(request_body))
            return call
        except Exception:
            report_internal_error("starting a Bedrock span")
            return None

    def _bedrock(self, client: Any) -> bool:
        kind = type(client)
        known = self._is_bedrock.get(kind)
        if known is None:
            known = self._is_bedrock[kind] = client.meta.service_model.service_name == SERVICE
        return known

    # --- after the call -----------------------------------------------------

    def _finish(self, call: GenAICall, operation: str, result: Any) -> Any:
        try:
            tier = result.get("serviceTier")
            tier = tier.get("type") if isinstance(tier, dict) else tier
            latency = (result.get("performanceConfig") or {}).get("latency") or result.get("performanceConfigLatency")
            if latency == "optimized":
                tier = LATENCY_OPTIMIZED
            if isinstance(tier, str) and tier:
                call.set_attribute(RESPONSE_SERVICE_TIER, tier)
            model = call.start_attributes.get(attr.REQUEST_MODEL, "")
            if operation == "Converse":
                converse.read_response(call, result)
            elif operation == "ConverseStream":
                result["stream"] = SyncStreamProxy(result["stream"], call,
                                                   converse.StreamReader(call.capture_content))
                return result
            elif operation == "InvokeModel":
                data = result["body"].read()
                result["body"] = _unread_body(data)
                bodies.read_response(call, model, _json(data), _headers(result))
            else:
                result["body"] = SyncStreamProxy(result["body"], call,
                                                 bodies.StreamReader(model, call.capture_content))
                return result
        except Exception:
            report_internal_error("reading a Bedrock response")
        call.end()
        return result


def _unread_body(data: bytes) -> Any:
    from botocore.response import StreamingBody

    return StreamingBody(io.BytesIO(data), len(data))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _headers(result: dict) -> dict:
    return (result.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
