"""Cost reports: a report model built from the analytics API, rendered to HTML, Markdown and
JSON with charts, sent on schedule through the outbox of `notify/`."""


def schedules_of(config):
    """The report schedules of a Config (checked when it was loaded)."""
    from .schedule import parse_schedules

    return parse_schedules(config.reports.schedules, config.reports.timezone)


def settings_of(config, pages_url: str = ""):
    """The ReportSettings of a Config; `pages_url` when the config names no address."""
    from .build import ReportSettings
    from .quick_wins import CHEAPER_MODELS

    return ReportSettings(cheaper_models={**CHEAPER_MODELS, **config.reports.cheaper_models},
                          pages_url=config.reports.pages_url or pages_url)
