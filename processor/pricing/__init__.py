"""Pricing: what each LLM call cost, from a reported cost, the user's price book or the bundled catalog."""
from .catalog import CATALOG_VERSION, Catalog
from .price_book import PriceBook
from .pricer import Pricer, Quote
from .rates import RateCard
from .yaml_reader import PriceBookError

__all__ = ["CATALOG_VERSION", "Catalog", "PriceBook", "PriceBookError", "Pricer", "Quote", "RateCard"]
