"""The two halves live in top-level folders but import as `llmledger.instrumentation`
and `llmledger.processor`; pyproject.toml cannot map a folder tree to a prefixed name,
so the package list is computed here. Everything else is in pyproject.toml."""
from setuptools import find_namespace_packages, setup

FOLDERS = {"instrumentation": "llmledger.instrumentation", "processor": "llmledger.processor"}

packages, package_dir = [], {}
for folder, name in FOLDERS.items():
    package_dir[name] = folder
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]

setup(packages=packages, package_dir=package_dir)
