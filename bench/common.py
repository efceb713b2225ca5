"""Shared helpers for formgate's benchmarks (bench/*.py).

Nothing here imports formgate, torch or the competitors at module level, so every benchmark can
import it first (before it sets thread-count environment variables and imports the engines).

    machine_info() -> dict          CPU model, cores, RAM, OS, Python
    versions(pkgs) -> dict          installed version of each distribution (or "not installed")
    percentiles(values) -> dict     n, mean, p50/p90/p99/p99.9, min, max (nearest-rank)
    markdown_table(rows, columns)   GitHub Markdown table
    write_results(path, title, sections)  bench/results/*.md with a standard header
    pin_single_thread()             set OMP/MKL/RAYON/... thread counts to 1 (call before imports)
    repo_root(), shared_dir()       <repo>, <repo>/../shared
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    "machine_info",
    "versions",
    "percentiles",
    "markdown_table",
    "write_results",
    "pin_single_thread",
    "repo_root",
    "shared_dir",
    "fmt_num",
    "command_line",
]

_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "RAYON_NUM_THREADS",  # llguidance (Rust) thread pools
    "TOKENIZERS_PARALLELISM",  # HF tokenizers: "false"
)


def repo_root() -> Path:
    """The formgate repository root (the parent of bench/)."""
    return Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """`../shared` beside the repository (tokenizers, maskbench). May not exist."""
    return repo_root().parent / "shared"


def pin_single_thread() -> None:
    """Ask every library we use for one thread. Must run before torch/numpy/engines are imported.

    Values already set in the environment are left alone (so a caller can override them).
    """
    for var in _THREAD_ENV_VARS:
        os.environ.setdefault(var, "false" if var == "TOKENIZERS_PARALLELISM" else "1")


# --------------------------------------------------------------------------------------------
# machine / versions


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _physical_cores() -> int | None:
    """Distinct (physical id, core id) pairs in /proc/cpuinfo; None if unknown."""
    try:
        pairs = set()
        phys = core = None
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key:  # blank line ends one processor block
                    if core is not None:
                        pairs.add((phys, core))
                    phys = core = None
        if core is not None:
            pairs.add((phys, core))
        return len(pairs) or None
    except OSError:
        return None


def _cpu_quota() -> float | None:
    """cgroup v2/v1 CPU quota in cores (containers), None if unlimited/unknown."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        if quota > 0 and period > 0:
            return quota / period
    except (OSError, ValueError):
        pass
    return None


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        return None


def _os_name() -> str:
    try:
        fields = {}
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                fields[k] = v.strip('"')
        name = fields.get("PRETTY_NAME") or fields.get("NAME")
        if name:
            return f"{name} (kernel {platform.release()})"
    except OSError:
        pass
    return platform.platform()


def _load_avg() -> str | None:
    """1/5/15-minute load averages: a busy machine makes every timing slower and noisier."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    """Facts about the machine running the benchmark, ready to print."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    mem = _mem_total_gib()
    quota = _cpu_quota()
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": _physical_cores(),
        "usable_cpus": affinity,
        "cpu_quota": f"{quota:g} cores" if quota is not None else "none",
        "ram_gib": round(mem, 1) if mem is not None else None,
        "load_avg_1_5_15": _load_avg(),
        "os": _os_name(),
        "arch": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "hostname": platform.node(),
    }
    return info


def versions(pkgs: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution name, "not installed" when absent.

    Uses importlib.metadata, so nothing is imported; for an editable/in-tree package without
    metadata the module's __version__ is tried as a fallback.
    """
    from importlib import metadata

    out: dict[str, str] = {}
    for name in pkgs:
        try:
            out[name] = metadata.version(name)
            continue
        except metadata.PackageNotFoundError:
            pass
        mod = sys.modules.get(name.replace("-", "_"))
        ver = getattr(mod, "__version__", None) if mod is not None else None
        out[name] = str(ver) if ver else "not installed"
    return out


def command_line() -> str:
    """The command that started this process, shell-quoted."""
    return " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)


# --------------------------------------------------------------------------------------------
# statistics / formatting

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
)


def percentiles(values: Sequence[float], points: Sequence[tuple[str, float]] = PERCENTILES) -> dict:
    """n, mean, min, max and nearest-rank percentiles (no interpolation) of `values`.

    Nearest rank: the p-th percentile is the smallest value with at least p% of the samples at or
    below it, so p99.9 of fewer than 1000 samples is the maximum. Empty input gives NaNs.
    """
    n = len(values)
    out: dict[str, float] = {"n": n}
    if n == 0:
        for key, _ in points:
            out[key] = math.nan
        out.update(mean=math.nan, min=math.nan, max=math.nan)
        return out
    s = sorted(values)
    for key, p in points:
        rank = max(1, math.ceil(p / 100.0 * n))
        out[key] = s[rank - 1]
    out["mean"] = math.fsum(s) / n
    out["min"] = s[0]
    out["max"] = s[-1]
    return out


def fmt_num(x: Any, digits: int = 1) -> str:
    """Compact number formatting for tables: ints as-is, floats to `digits` decimals (more for
    values below 1, fewer for large ones); None/NaN as an em-dash."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return "—"
        if math.isinf(x):
            return "∞"
        ax = abs(x)
        if ax >= 1000:
            return f"{x:,.0f}"
        if ax >= 100:
            return f"{x:.{max(0, digits - 1)}f}" if digits > 1 else f"{x:.0f}"
        if ax > 0 and ax < 1:
            return f"{x:.{digits + 1}f}"
        return f"{x:.{digits}f}"
    return str(x)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any]) -> str:
    """A GitHub Markdown table.

    `columns` items are either a key (header == key) or a tuple `(header, key)` or
    `(header, key, align)` with align in {"l", "r", "c"}; numbers default to right alignment.
    Cell values go through fmt_num; strings have `|` escaped.
    """
    cols = []
    for c in columns:
        if isinstance(c, (tuple, list)):
            header, key = c[0], c[1]
            align = c[2] if len(c) > 2 else None
        else:
            header, key, align = str(c), c, None
        cols.append((header, key, align))

    def cell(v: Any) -> str:
        return fmt_num(v).replace("|", "\\|").replace("\n", " ")

    body = [[cell(r.get(key)) for _, key, _ in cols] for r in rows]
    aligns = []
    for i, (_, key, align) in enumerate(cols):
        if align is None:
            numeric = any(isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
                          for r in rows)
            align = "r" if numeric else "l"
        aligns.append(align)
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, (h, _, _) in enumerate(cols)]
    widths = [max(w, 3) for w in widths]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, text in enumerate(cells):
            out.append(text.rjust(widths[i]) if aligns[i] == "r" else text.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    sep = []
    for i, a in enumerate(aligns):
        w = widths[i]
        if a == "r":
            sep.append("-" * (w - 1) + ":")
        elif a == "c":
            sep.append(":" + "-" * (w - 2) + ":")
        else:
            sep.append("-" * w)
    lines = [line([h for h, _, _ in cols]), "| " + " | ".join(sep) + " |"]
    lines += [line(b) for b in body]
    return "\n".join(lines)


def _kv_table(d: Mapping[str, Any]) -> str:
    return markdown_table([{"k": k, "v": "—" if v is None else str(v)} for k, v in d.items()],
                          [("", "k"), ("", "v")])


def write_results(
    path: str | os.PathLike,
    title: str,
    sections: Sequence[tuple[str, str]] | Mapping[str, str],
    *,
    packages: Iterable[str] = ("formgate", "xgrammar", "llguidance", "torch", "transformers",
                               "numpy"),
    command: str | None = None,
    machine: Mapping[str, Any] | None = None,
) -> Path:
    """Write a Markdown results file: title, date, command, machine, package versions, then the
    given `(heading, markdown body)` sections in order. Returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc).astimezone()
    m = dict(machine) if machine is not None else machine_info()
    out = [f"# {title}", ""]
    out.append(f"- Date: {now.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    out.append(f"- Command: `{command or command_line()}`")
    out.append("")
    out += ["## Machine", "", _kv_table(m), ""]
    out += ["## Versions", "", _kv_table(versions(packages)), ""]
    items = sections.items() if isinstance(sections, Mapping) else sections
    for heading, body in items:
        out += [f"## {heading}", "", body.rstrip(), ""]
    path.write_text("\n".join(out), encoding="utf-8")
    return path
