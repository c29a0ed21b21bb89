"""What caching and routing saved on each call, valued at the price in force.

Runs after the `Pricer` has priced a call from its tokens:

- a cache hit (`cache_kind` set) cost nothing: its price becomes `saved_cost` and its
  `cost` is 0. The price source and version stay on the row: they say which price
  valued the saving. A hit on a model without a price costs 0 and saves an unknown
  amount (`saved_cost` NULL);
- a routed call (`requested_model` set) saves the price of the same tokens on the
  requested model minus what it cost on the model used; negative when the route was
  dearer (a fallback to a bigger model). NULL when either side has no price;
- provider prompt caching, on every priced call: the cache read and write tokens at
  the plain input rate minus what they were charged (`prompt_cache_saved`). Writes
  that cost more than input (Anthropic's 1.25x) make it negative for that call.

Every amount is exact: token counts times Decimal prices (see `rates`).
"""
from __future__ import annotations

from decimal import Decimal

from ..record import LlmCall
from .pricer import Pricer
from .rates import INPUT_ONLY_OPERATIONS, MONEY, CannotPrice, RateCard

ZERO = Decimal(0)


class SavingsPricer:
    """Fills `saved_cost`, `prompt_cache_saved` (and a hit's zero cost) of priced calls."""

    def __init__(self, pricer: Pricer):
        self.pricer = pricer

    def apply(self, call: LlmCall) -> None:
        if call.cache_kind:
            call.saved_cost, call.cost, call.cost_details = call.cost, ZERO, {}
            call.unpriced, call.prompt_cache_saved = False, ZERO
            return
        call.prompt_cache_saved = self.prompt_cache_saving(call)
        if call.requested_model and call.cost is not None:
            requested = self.cost_on(call, call.requested_model, call.requested_provider or call.provider)
            call.saved_cost = None if requested is None else MONEY.subtract(requested, call.cost)

    def prompt_cache_saving(self, call: LlmCall) -> Decimal:
        if not (call.cache_read_tokens or call.cache_write_tokens) or call.price_source in ("", "billed", "reported"):
            return ZERO
        card = self._card(call, call.response_model, call.request_model, call.provider)
        if card is None or card.input is None:
            return ZERO
        saved = ZERO
        for tokens, rate in ((call.cache_read_tokens, card.cache_read), (call.cache_write_tokens, card.cache_write)):
            if tokens and rate is not None:  # no rate of its own: billed as input, nothing saved
                at_input = card.input.cost(tokens, call.input_tokens)
                saved = MONEY.add(saved, MONEY.subtract(at_input, rate.cost(tokens, call.input_tokens)))
        return saved

    def cost_on(self, call: LlmCall, model: str, provider: str) -> Decimal | None:
        """What the call's tokens cost on `model` of `provider` at the call's time (None: no price)."""
        card = self._card(call, "", model, provider)
        if card is None:
            return None
        try:
            total, _ = card.cost(
                input_tokens=call.input_tokens, output_tokens=call.output_tokens,
                cache_read_tokens=call.cache_read_tokens, cache_write_tokens=call.cache_write_tokens,
                reasoning_tokens=call.reasoning_tokens, input_only=call.operation in INPUT_ONLY_OPERATIONS)
        except CannotPrice:
            return None
        return total

    def _card(self, call: LlmCall, response_model: str, request_model: str, provider: str) -> RateCard | None:
        # The server address tells providers apart (Azure, gateways) only for the call's own provider.
        address = call.server_address if provider == call.provider else ""
        return self.pricer.quote_for(provider, address, response_model, request_model, call.service_tier,
                                     call.timestamp_ns).card
