"""A rate card: the prices in force for one model, and the arithmetic that turns usage into cost.

Prices are USD per 1M tokens (per request for `request`), as providers publish them.
A cost component is `price x integer token count / 1,000,000`: a Decimal product and a
shift of the exponent, so it is exact. Components are kept to 12 decimal places, the
scale of the store's `Decimal(38,12)` columns (only book-derived prices such as a GPU-hour
amortization or a discount ever have more digits).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal

# Wide enough that no product of a price and a token count is ever rounded; independent
# of whatever the thread's default Decimal context has been set to.
MONEY = Context(prec=60, rounding=ROUND_HALF_EVEN)
COST_PLACES = Decimal("1e-12")
_ZERO = Decimal(0)

# The components a cost is split into, in display order.
COMPONENTS = ("input", "cache_read", "cache_write", "output", "reasoning", "request")

# Operations that produce no output tokens worth billing: priced on input tokens only.
INPUT_ONLY_OPERATIONS = frozenset({"embeddings", "embedding"})


class CannotPrice(Exception):
    """The rate card has no price for some of the usage (the call stays unpriced)."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A price per 1M tokens, optionally with long-context steps.

    `steps` holds (above_input_tokens, price) pairs in ascending order. As providers
    bill long context, crossing a threshold re-prices ALL tokens of the call at the
    step's rate (Gemini 2.5 Pro: a 200,001-token prompt pays 2.50 for every token).
    """

    base: Decimal
    steps: tuple[tuple[int, Decimal], ...] = ()
    # True when price x tokens / 1M never has more than 12 decimal places (no rounding needed).
    exact: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        prices = (self.base, *(price for _, price in self.steps))
        object.__setattr__(self, "exact", all(price.as_tuple().exponent >= -6 for price in prices))

    def at(self, input_tokens: int) -> Decimal:
        if not self.steps:
            return self.base
        for above, price in reversed(self.steps):
            if input_tokens > above:
                return price
        return self.base

    def cost(self, tokens: int, input_tokens: int) -> Decimal:
        """What `tokens` cost at this rate, for a call with `input_tokens` input in all."""
        amount = MONEY.multiply(self.at(input_tokens), tokens).scaleb(-6, MONEY)
        return amount if self.exact else store_scale(amount)

    def scaled(self, factor: Decimal) -> Rate:
        return Rate(
            MONEY.multiply(self.base, factor),
            tuple((above, MONEY.multiply(price, factor)) for above, price in self.steps),
        )


@dataclass(frozen=True, slots=True)
class RateCard:
    """The prices one call is charged at, and where they came from.

    A component without a price (None) means the provider does not charge it apart:
    cache reads and writes are then billed as ordinary input, reasoning as output.
    """

    source: str  # "price_book" | "catalog"
    version: str  # exactly which price: e.g. "genai-prices 0.2.3 openai/gpt-4o-mini"
    provider: str  # the catalog provider id or the book entry's provider ("" when any)
    model: str  # the catalog model id or the book entry's match pattern
    input: Rate | None = None
    cache_read: Rate | None = None
    cache_write: Rate | None = None
    output: Rate | None = None
    reasoning: Rate | None = None
    request: Decimal | None = None  # USD per request
    notes: tuple[str, ...] = field(default=())

    def scaled(self, factor: Decimal, *, source: str, version: str, note: str) -> RateCard:
        """Every price multiplied by `factor` (a tier multiplier, a discount)."""
        def scale(rate: Rate | None) -> Rate | None:
            return None if rate is None else rate.scaled(factor)

        return replace(
            self,
            source=source,
            version=version,
            input=scale(self.input),
            cache_read=scale(self.cache_read),
            cache_write=scale(self.cache_write),
            output=scale(self.output),
            reasoning=scale(self.reasoning),
            request=None if self.request is None else MONEY.multiply(self.request, factor),
            notes=self.notes + (note,),
        )

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
        input_only: bool = False,
    ) -> tuple[Decimal, dict[str, Decimal]]:
        """Total cost and its components, for usage in the GenAI conventions' semantics
        (input includes cache read and write tokens, output includes reasoning tokens).

        Raises CannotPrice when usage is inconsistent or has no price here."""
        plain_input = input_tokens - cache_read_tokens - cache_write_tokens
        if plain_input < 0:
            raise CannotPrice(f"cache tokens ({cache_read_tokens} read + {cache_write_tokens} write) "
                              f"exceed input tokens ({input_tokens})")
        if input_only:
            output_tokens = reasoning_tokens = 0
        if reasoning_tokens > output_tokens:
            raise CannotPrice(f"reasoning tokens ({reasoning_tokens}) exceed output tokens ({output_tokens})")

        # Which rate each token count is billed at: a count with no rate of its own
        # falls back to its parent (cache -> input, reasoning -> output).
        cache_read, cache_write, reasoning = self.cache_read, self.cache_write, self.reasoning
        if cache_read is None:
            plain_input += cache_read_tokens
            cache_read_tokens = 0
        if cache_write is None:
            plain_input += cache_write_tokens
            cache_write_tokens = 0
        if reasoning is None:
            reasoning_tokens = 0
        details: dict[str, Decimal] = {}
        total = _ZERO
        for name, tokens, rate in (("input", plain_input, self.input), ("cache_read", cache_read_tokens, cache_read),
                                   ("cache_write", cache_write_tokens, cache_write),
                                   ("output", output_tokens - reasoning_tokens, self.output),
                                   ("reasoning", reasoning_tokens, reasoning)):
            if tokens == 0:
                continue
            if rate is None:
                raise CannotPrice(f"no {name} price for {self.model}")
            details[name] = amount = rate.cost(tokens, input_tokens)
            total = MONEY.add(total, amount)
        if self.request is not None:
            details["request"] = amount = store_scale(self.request)
            total = MONEY.add(total, amount)
        return total, details


def store_scale(amount: Decimal) -> Decimal:
    """`amount` kept to the store's 12 decimal places (rounding half-even past them)."""
    if amount.as_tuple().exponent < -12:  # type: ignore[operator]
        return amount.quantize(COST_PLACES, context=MONEY)
    return amount
