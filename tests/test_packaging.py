"""The two distributions stay in step: `llmledger-instrumentation` (instrumentation/pyproject.toml)
and `llmledger` (pyproject.toml + setup.py), which includes the instrumentation package."""
from __future__ import annotations

import tomllib
from importlib.metadata import distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTATION = tomllib.loads((ROOT / "instrumentation" / "pyproject.toml").read_text())
SERVICE = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_instrumentation_subpackage_is_in_the_wheel_list():
    folders = {
        "llmledger.instrumentation" + "".join(f".{part}" for part in init.parent.relative_to(ROOT / "instrumentation").parts)
        for init in (ROOT / "instrumentation").rglob("__init__.py")
        if "build" not in init.parts
    }
    listed = set(INSTRUMENTATION["tool"]["setuptools"]["packages"])
    assert folders - listed == set(), "add these to [tool.setuptools] packages in instrumentation/pyproject.toml"
    assert listed - folders == set(), "these listed packages have no folder"


def test_the_service_distribution_requires_everything_the_instrumentation_does():
    # `llmledger` ships the instrumentation package too, so it must carry its dependencies.
    service = {str(Requirement(r)) for r in SERVICE["project"]["dependencies"]}
    missing = [r for r in INSTRUMENTATION["project"]["dependencies"] if str(Requirement(r)) not in service]
    assert missing == [], "add these to pyproject.toml's dependencies (the instrumentation's own)"


def test_the_instrumentation_carries_no_service_dependency():
    names = {Requirement(r).name for r in INSTRUMENTATION["project"]["dependencies"]}
    assert names.isdisjoint({"chdb", "clickhouse-connect", "starlette", "uvicorn", "pyarrow", "pandas"})


def test_the_installed_distribution_registers_the_instrumentors_of_the_instrumentation_pyproject():
    # setup.py reads them from instrumentation/pyproject.toml; an editable install shows the result.
    installed = {ep.name: ep.value for ep in distribution("llmledger").entry_points
                 if ep.group == "opentelemetry_instrumentor"}
    assert installed == INSTRUMENTATION["project"]["entry-points"]["opentelemetry_instrumentor"]
