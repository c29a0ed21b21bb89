"""The built-in cost pages, served by `llmledger serve` on its HTTP port: server-rendered
Jinja2 templates over the analytics API, with uPlot (vendored in static/) for charts.
Presentation only: the numbers come from `llmledger.processor.analytics`, their text from
`llmledger.processor.format`."""
from .routes import web_routes

__all__ = ["web_routes"]
