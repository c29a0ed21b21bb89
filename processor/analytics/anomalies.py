"""Finding what is unusual in the spend; the detection itself is SQL in `sql/`."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable

from ..format import money
from .anomaly_settings import AnomalySettings, SpikeSettings
from .records import Anomaly, SpikeChart
from .runner import Runner, as_decimal, as_moment, fetch
from .sql_files import load_sql
from .time_range import checked_range, is_whole_hour, range_parameters, utc
from .trend import cost_trend

KINDS = ("request_outlier", "hourly_spike", "daily_spike", "new_app", "new_model")
_MOST_EXAMPLES = 10  # what the SQL collects per anomaly


def find_anomalies(run: Runner, start: datetime | date, end: datetime | date, *,
                   settings: AnomalySettings | None = None, kinds: Iterable[str] | None = None) -> list[Anomaly]:
    """Anomalies in [start, end), of the given kinds (default all): request outliers first,
    then hourly and daily spikes, each by score, then new apps and models as they appeared."""
    settings = settings or AnomalySettings()
    if settings.examples > _MOST_EXAMPLES:
        raise ValueError(f"AnomalySettings.examples: at most {_MOST_EXAMPLES}, got {settings.examples}")
    wanted = _checked_kinds(kinds)
    start, end = checked_range(start, end)
    window = range_parameters(start, end)
    found: list[Anomaly] = []
    if "request_outlier" in wanted:
        found += _request_outliers(run, window, settings)
    scales = [scale for scale in _SPIKE_SCALES if scale[0] in wanted]
    if scales:
        found += _spikes(run, window, settings, scales)
    if wanted & {"new_app", "new_model"}:
        found += [a for a in _new_arrivals(run, window, settings) if a.kind in wanted]
    return found


def _request_outliers(run, window: dict, settings: AnomalySettings) -> list[Anomaly]:
    rules = settings.requests
    parameters = {**window, "multiplier": str(rules.multiplier), "baseline_days": rules.baseline_days,
                  "min_samples": rules.min_samples, "min_cost": str(rules.min_cost)}
    # The cost histogram says on which days a call may be an outlier; only those are judged.
    days = fetch(run, load_sql("outlier_candidate_days"), parameters)
    if not days:
        return []
    # The range narrowed to those days: their calls and the baseline days before them are read.
    judged = [date.fromisoformat(str(d["day"])) for d in days]  # a Date, or its text through JSON
    first = max(as_moment(window["start"]), _utc_day(min(judged)))
    last = min(as_moment(window["end"]), _utc_day(max(judged) + timedelta(days=1)))
    rows = fetch(run, load_sql("request_outliers"), {
        **parameters, **range_parameters(first, last), "max_results": settings.max_per_kind,
        "apps": [d["app"] for d in days], "models": [d["model"] for d in days], "days": [str(day) for day in judged]})
    return [_anomaly(row, "request_outlier", [row["trace_id"]], settings,
                     f"one call cost {_money(row['observed'])}, over {rules.multiplier} x the p95 "
                     f"{_money(row['baseline'])} of its app/model in the {rules.baseline_days} days before")
            for row in rows]


# (kind, the settings' field of its rules, bucket seconds, what a bucket is called)
_SPIKE_SCALES = (("hourly_spike", "hourly", 3600, "hour"), ("daily_spike", "daily", 86400, "day"))


def _spikes(run, window: dict, settings: AnomalySettings, scales: list[tuple]) -> list[Anomaly]:
    """Hourly and daily spikes, judged in one read of the rollup: hourly ones first."""
    rules = {kind: getattr(settings, field) for kind, field, _, _ in scales}
    rows = fetch(run, load_sql("spend_spikes"), {
        **window, "kinds": [kind for kind, *_ in scales], "bucket_seconds": [seconds for _, _, seconds, _ in scales],
        "history_buckets": [rules[kind].baseline_buckets for kind, *_ in scales],
        "fence_multipliers": [str(rules[kind].fence_multiplier) for kind, *_ in scales],
        "min_spends": [str(rules[kind].min_spend) for kind, *_ in scales],
        "min_requests": [rules[kind].min_requests for kind, *_ in scales],
        "min_active_buckets": [rules[kind].min_active_buckets for kind, *_ in scales],
        "max_results": settings.max_per_kind})
    found = []
    for kind, _, seconds, unit in scales:
        spikes = [row for row in rows if row["kind"] == kind]
        examples = _spike_examples(run, spikes, seconds, window["end"])
        found += [_anomaly(row, kind, examples.get((row["app"], row["model"], as_moment(row["at"])), []), settings,
                           f"spent {_money(row['observed'])} in one {unit}, above the fence "
                           f"{_money(row['threshold'])} (median {_money(row['baseline'])}) of the "
                           f"{rules[kind].baseline_buckets} {unit}s before")
                  for row in spikes]
    return found


def _spike_examples(run, spikes: list[dict], seconds: int, end: str) -> dict[tuple, list[str]]:
    """The traces of each spike's most expensive calls, by (app, model, bucket start)."""
    if not spikes:
        return {}
    starts = [as_moment(row["at"]) for row in spikes]
    rows = fetch(run, load_sql("spike_examples"), {
        "bucket_seconds": seconds, "first": range_parameters(min(starts), as_moment(end))["start"], "end": end,
        "apps": [row["app"] for row in spikes], "models": [row["model"] for row in spikes],
        "buckets": [int(moment.timestamp()) for moment in starts]})
    return {(row["app"], row["model"], as_moment(row["bucket"])): row["trace_ids"] for row in rows}


def _new_arrivals(run, window: dict, settings: AnomalySettings) -> list[Anomaly]:
    rules = settings.new_arrivals
    parameters = {**window, "baseline_days": rules.baseline_days, "min_requests": rules.min_requests,
                  "max_results": settings.max_per_kind}
    if is_whole_hour(as_moment(window["start"])):
        # The hourly rollup says which apps and models are new; only their calls are read.
        names = fetch(run, load_sql("new_arrival_names"), parameters)
        if not names:
            return []
        parameters.update(apps=[r["name"] for r in names if r["kind"] == "new_app"],
                          models=[r["name"] for r in names if r["kind"] == "new_model"])
        rows = fetch(run, load_sql("new_arrival_calls"), parameters)
    else:
        rows = fetch(run, load_sql("new_arrivals"), parameters)
    found = []
    for row in rows:
        what = f"app {row['app']!r}" if row["kind"] == "new_app" else f"model {row['model']!r}"
        row = {**row, "baseline": 0, "threshold": None, "score": row["requests"], "baseline_samples": 0}
        found.append(_anomaly(row, row["kind"], row["trace_ids"], settings,
                              f"{what} first seen, not in the {rules.baseline_days} days before; "
                              f"{row['requests']} calls since, costing {_money(row['observed'])}"))
    return found


def _anomaly(row: dict, kind: str, trace_ids: list, settings: AnomalySettings, description: str) -> Anomaly:
    threshold = row["threshold"]
    return Anomaly(
        kind=kind,
        app=row["app"],
        model=row["model"],
        at=as_moment(row["at"]),
        observed=as_decimal(row["observed"]),
        baseline=as_decimal(row["baseline"]),
        threshold=None if threshold is None else as_decimal(threshold),
        score=float(row["score"]),
        requests=int(row["requests"]),
        baseline_samples=int(row["baseline_samples"]),
        trace_ids=tuple(dict.fromkeys(trace_ids))[: settings.examples],  # unique, most telling first
        description=description,
    )


def _money(value) -> str:
    """For descriptions: as people read money everywhere else (the formatting module)."""
    return money(as_decimal(value))


def _checked_kinds(kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(KINDS)
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown or not wanted:
        raise ValueError(f"unknown anomaly kind(s) {sorted(unknown)}: use some of {', '.join(KINDS)}")
    return wanted


# Buckets shown before and after a spike on its chart.
_CHART_BEFORE = {"hourly_spike": 48, "daily_spike": 28}
_CHART_AFTER = {"hourly_spike": 6, "daily_spike": 2}


def spike_chart(run: Runner, anomaly: Anomaly, now: datetime | None = None) -> SpikeChart | None:
    """The spend of a spike's app/model per bucket (hours or UTC days) around the spike,
    with the median and fence it was judged against; None for other kinds of anomaly."""
    if anomaly.kind not in _CHART_BEFORE:
        return None
    step = timedelta(hours=1) if anomaly.kind == "hourly_spike" else timedelta(days=1)
    start = anomaly.at - step * _CHART_BEFORE[anomaly.kind]
    end = anomaly.at + step * (_CHART_AFTER[anomaly.kind] + 1)
    if now is not None:
        end = max(anomaly.at + step, min(end, _ceil_hour(now)))
    points = cost_trend(run, "hour" if step.days == 0 else "day", start, end,
                        filters={"app": anomaly.app, "model": anomaly.model})
    spent = {as_moment(p.bucket) if step.days == 0 else _utc_day(p.bucket): p.cost or Decimal(0) for p in points}
    buckets, moment = [], start
    while moment < end:
        buckets.append(moment)
        moment += step
    return SpikeChart(anomaly=anomaly, granularity="hour" if step.days == 0 else "day", buckets=tuple(buckets),
                      costs=tuple(spent.get(b, Decimal(0)) for b in buckets), baseline=anomaly.baseline,
                      threshold=anomaly.threshold)


def _ceil_hour(moment: datetime) -> datetime:
    moment = utc(moment)
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def _utc_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
