"""The `llmledger` distribution: the service, the CLI, and the instrumentation with it.

The two halves live in top-level folders but import as `llmledger.processor` and
`llmledger.instrumentation`; pyproject.toml cannot map a folder tree to a prefixed
name, so the package list is computed here. The instrumentation is included rather
than depended on: it is not on a package index, and `pip install -e .` in a clone must
give an editable instrumentation too. Its package list and entry points are read from
`instrumentation/pyproject.toml` (the `llmledger-instrumentation` distribution), so
they are written in one place. The `llmledger` command is declared here with them
(pyproject.toml cannot have static scripts beside setup.py's entry points). Everything
else is in pyproject.toml."""
import sys
from pathlib import Path

from setuptools import find_namespace_packages, setup

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
instrumentation = tomllib.loads((HERE / "instrumentation" / "pyproject.toml").read_text())

packages = list(instrumentation["tool"]["setuptools"]["packages"])
package_dir = {"llmledger.instrumentation": "instrumentation", "llmledger.processor": "processor"}
packages += ["llmledger.processor"]
packages += [f"llmledger.processor.{sub}" for sub in find_namespace_packages("processor", exclude=["*__pycache__*"])]

entry_points = {"console_scripts": ["llmledger = llmledger.processor.cli:main"]}
entry_points |= {
    group: [f"{name} = {target}" for name, target in targets.items()]
    for group, targets in instrumentation["project"]["entry-points"].items()
}

setup(packages=packages, package_dir=package_dir, entry_points=entry_points)
