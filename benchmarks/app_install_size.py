"""What the app side costs an app image: site-packages size and install time of a fresh
environment holding only the tracing side (not the app's own LLM SDK).

    python benchmarks/app_install_size.py             # llmledger-instrumentation vs the official OpenAI one
    python benchmarks/app_install_size.py --service   # also the service distribution, for comparison

Each candidate goes into its own `venv --without-pip` (so pip itself is not counted), with
the same empty pip cache, from the package index pip is set up with. Compared with:
the official `opentelemetry-instrumentation-openai-v2` plus `opentelemetry-distro` and
`opentelemetry-exporter-otlp` (gRPC and HTTP), the usual way to trace OpenAI with OTel.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICIAL = ["opentelemetry-instrumentation-openai-v2", "opentelemetry-distro", "opentelemetry-exporter-otlp"]


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def measure(name: str, requirements: list[str], work: Path, cache: Path) -> dict:
    env = work / name.replace(" ", "-")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    started = time.perf_counter()
    pip("--python", str(env / "bin" / "python"), "install", "--cache-dir", str(cache), *requirements)
    seconds = time.perf_counter() - started
    [site_packages] = env.glob("lib/python*/site-packages")
    size = sum(f.stat().st_size for f in site_packages.rglob("*") if f.is_file() and not f.is_symlink())
    distributions = len(list(site_packages.glob("*.dist-info")))
    return {"name": name, "mib": size / 2**20, "seconds": seconds, "distributions": distributions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", action="store_true", help="also measure the service distribution")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheels, cache = work / "wheels", work / "cache"
        sources = [ROOT / "instrumentation"] + ([ROOT] if args.service else [])
        pip("wheel", "--no-deps", "--cache-dir", str(cache / "build"), "-w", str(wheels), *map(str, sources))
        candidates = [("llmledger-instrumentation", [str(next(wheels.glob("llmledger_instrumentation-*.whl")))])]
        candidates.append(("official openai-v2 + distro + exporter-otlp", OFFICIAL))
        if args.service:
            candidates.append(("llmledger (service)", [str(next(wheels.glob("llmledger-*.whl")))]))
        results = []
        for name, requirements in candidates:
            try:
                results.append(measure(name, requirements, work, cache / name.replace(" ", "-")))
            except subprocess.CalledProcessError:
                print(f"{name}: not installable here, skipped", file=sys.stderr)
    print(f"{'app side':48} {'site-packages':>14} {'install':>9} {'distributions':>14}")
    for r in results:
        print(f"{r['name']:48} {r['mib']:>10.1f} MiB {r['seconds']:>7.1f} s {r['distributions']:>14}")


if __name__ == "__main__":
    main()
