"""A virtual environment per framework stack, built from the pinned requirement files in
requirements/ (their pins conflict: OpenLIT wants openai<3, the official openai-v2
instrumentation wants httpx and util-genai 1.1b0, the rest take openai 3.x).

Environments are built with uv, once per requirements file content, under
$LLMLEDGER_STACKS_DIR (default ~/.cache/llmledger/test-stacks) and reused by later runs.
A stack that cannot be installed fails its test with uv's message; none is skipped.

    python tests/stacks/environments.py --compile   # re-pin requirements/*.txt from *.in
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "requirements"
APPS = HERE / "apps"


@dataclass(frozen=True)
class Stack:
    name: str  # requirements/<name>.txt
    app: str  # apps/<app>
    args: tuple[str, ...] = ()

    @property
    def requirements(self) -> Path:
        return REQUIREMENTS / f"{self.name}.txt"

    def command(self, python: Path) -> list[str]:
        return [str(python), str(APPS / self.app), *self.args]


STACKS = {stack.name: stack for stack in (
    Stack("openlit", "openlit_app.py"),
    Stack("langchain_openllmetry", "langchain_app.py", ("openllmetry",)),
    Stack("langchain_openinference", "langchain_app.py", ("openinference",)),
    Stack("llamaindex_openinference", "llamaindex_app.py"),
    Stack("agents_openinference", "agents_app.py"),
    Stack("pydantic_ai", "pydantic_ai_app.py"),
    Stack("logfire", "logfire_app.py"),
    Stack("litellm", "litellm_app.py"),
    Stack("openai_v2", "openai_v2_app.py"),
)}


def cache_root() -> Path:
    configured = os.environ.get("LLMLEDGER_STACKS_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "llmledger" / "test-stacks"


def uv() -> str:
    from uv import find_uv_bin  # the uv package of the test extra ships its binary

    return find_uv_bin()


class InstallFailed(Exception):
    pass


def build(stack: Stack) -> tuple[Path, float]:
    """The stack's python, and the seconds its install took (0 when it was already built)."""
    digest = hashlib.sha256(stack.requirements.read_bytes()).hexdigest()[:16]
    home = cache_root() / f"{stack.name}-{digest}"
    python = home / "bin" / "python"
    if python.exists():
        return python, 0.0
    started = time.monotonic()
    partial = home.with_name(home.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    steps = ([uv(), "venv", "--quiet", "--python", sys.executable, str(partial)],
             [uv(), "pip", "install", "--quiet", "--python", str(partial / "bin" / "python"),
              "-r", str(stack.requirements)])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise InstallFailed(f"installing {stack.name} failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        partial.rename(home)  # whole or not at all: a half-built environment is never reused
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # another run built it meanwhile
        if not python.exists():
            raise
    # The venv was made at the partial path; its scripts name it, but `bin/python` runs anywhere.
    return python, time.monotonic() - started


def compile_requirements() -> None:
    for source in sorted(REQUIREMENTS.glob("*.in")):
        subprocess.run([uv(), "pip", "compile", "--quiet", "--python-version",
                        f"{sys.version_info.major}.{sys.version_info.minor}",
                        "--custom-compile-command", "python tests/stacks/environments.py --compile",
                        str(source), "-o", str(source.with_suffix(".txt"))], check=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--compile"]:
        compile_requirements()
    else:
        sys.exit(__doc__)
