"""A virtual environment per framework stack, built from the pinned requirement files in
requirements/ (their pins conflict: OpenLIT wants openai<3, the official openai-v2
instrumentation wants httpx and util-genai 1.1b0, the rest take openai 3.x). A Node.js
stack (node/<name>/: its app, package.json and lock) is installed there with `npm ci`.

Environments are built with uv (or npm), once per requirements file (lock and app) content,
under $LLMLEDGER_STACKS_DIR (default ~/.cache/llmledger/test-stacks) and reused by later
runs. A stack that cannot be installed fails its test with the installer's message; none
is skipped.

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
NODE_APPS = HERE / "node"


@dataclass(frozen=True)
class Stack:
    name: str  # requirements/<name>.txt, or node/<name>/ for a Node.js app
    app: str  # apps/<app>, or node/<name>/<app>
    args: tuple[str, ...] = ()

    @property
    def is_node(self) -> bool:
        return self.app.endswith(".mjs")

    @property
    def requirements(self) -> Path:
        return NODE_APPS / self.name / "package-lock.json" if self.is_node else REQUIREMENTS / f"{self.name}.txt"

    def command(self, runtime: Path) -> list[str]:
        """`runtime`: what `build` returned, the stack's python or its installed Node.js app."""
        if self.is_node:
            return ["node", str(runtime), *self.args]
        return [str(runtime), str(APPS / self.app), *self.args]

    def digest(self) -> str:
        content = self.requirements.read_bytes()
        if self.is_node:  # the app runs from the install (Node finds packages beside it)
            content += (NODE_APPS / self.name / self.app).read_bytes()
        return hashlib.sha256(content).hexdigest()[:16]


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
    Stack("vercel_ai", "app.mjs"),
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
    """The stack's runtime (see `Stack.command`), and the seconds its install took (0 when
    it was already built)."""
    home = cache_root() / f"{stack.name}-{stack.digest()}"
    runtime = home / stack.app if stack.is_node else home / "bin" / "python"
    if runtime.exists():
        return runtime, 0.0
    started = time.monotonic()
    partial = home.with_name(home.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    if stack.is_node:
        partial.mkdir()
        for name in ("package.json", "package-lock.json", stack.app):
            shutil.copy(NODE_APPS / stack.name / name, partial / name)
        steps = (["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],)
    else:
        steps = ([uv(), "venv", "--quiet", "--python", sys.executable, str(partial)],
                 [uv(), "pip", "install", "--quiet", "--python", str(partial / "bin" / "python"),
                  "-r", str(stack.requirements)])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1200,
                              cwd=partial if stack.is_node else None)
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise InstallFailed(f"installing {stack.name} failed: {done.stderr.strip() or done.stdout.strip()}")
    try:
        partial.rename(home)  # whole or not at all: a half-built environment is never reused
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # another run built it meanwhile
        if not runtime.exists():
            raise
    # The venv was made at the partial path; its scripts name it, but `bin/python` runs anywhere.
    return runtime, time.monotonic() - started


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
