"""Fixtures: a recording pipeline and the receivers serving it (see receiver_harness)."""
from __future__ import annotations

import pytest
from receiver_harness import Receivers, RecordingPipeline


@pytest.fixture
def pipeline():
    return RecordingPipeline()


@pytest.fixture
def start_receivers(pipeline):
    """start_receivers(**options) -> running Receivers; options go to both builders."""
    started = []

    def start(**options) -> Receivers:
        receivers = Receivers(pipeline, **options)
        receivers.start()
        started.append(receivers)
        return receivers

    yield start
    for receivers in started:
        receivers.stop()


@pytest.fixture
def receivers(start_receivers):
    return start_receivers()
