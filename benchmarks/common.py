"""What both benchmarks share: the server in a process of its own, the checks, the machine facts."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROBE = [sys.executable, str(Path(__file__).with_name("memory_probe.py"))]


class BenchmarkError(RuntimeError):
    """A load did not load what was generated: its time would mean nothing."""


@contextlib.contextmanager
def server_process() -> Iterator[dict[str, Any]]:
    """The embedded server in a child process of its own, as a real server is never in the client's.

    Yields the keyword arguments that connect to it. In the loader's process the server's Python
    (HTTP, SQL translation) would compete with the load for the GIL, and its noise with the timings.
    """
    from snowload_nb.local import child_serve_command

    # `snowload serve` as connect_local() runs it, ended by closing its stdin
    server = subprocess.Popen(child_serve_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        line = server.stdout.readline()
        if not line:
            raise BenchmarkError("the server process did not start")
        yield json.loads(line)
    finally:
        with contextlib.suppress(Exception):
            server.stdin.close()  # type: ignore[union-attr]
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def expect_statuses(what: str, rows: list[tuple[Any, ...]], column: int, allowed: set[str], files: int) -> None:
    """A PUT's or COPY's result rows: one per file, each with an allowed status, or the run stops."""
    statuses = [str(r[column]).upper() for r in rows]
    if len(statuses) != files or not set(statuses) <= allowed:
        raise BenchmarkError(f"{what} reported {rows!r}; expected {files} rows with status in {sorted(allowed)}")


def round_order(cases: Sequence[str], round_index: int) -> list[str]:
    """The cases of one round, in a Williams design: over 2n rounds each case follows each other twice.

    A load's time depends on what ran just before it: here the widget case ran 17% slower than
    the others while it always sat between them (orders reversed each round), and within 1% of
    them once that changed. Balancing who precedes whom spreads such effects over all cases alike.
    """
    n = len(cases)
    first = [0]
    for step in range(1, n):
        first.append((step + 1) // 2 if step % 2 else n - step // 2)
    row = [(c + round_index // 2 % n) % n for c in first] if n % 2 else [(c + round_index) % n for c in first]
    if n % 2 and round_index % 2:
        row.reverse()
    return [cases[i] for i in row]


def replace_titled_section(document: str, title: str, section: str) -> str:
    """`document` with the section headed `title` (up to the next # or ## heading) replaced by
    `section`, or with it appended: each benchmark rewrites only its own figures."""
    lines = document.splitlines(keepends=True)
    body = section.rstrip("\n") + "\n"
    starts = [n for n, line in enumerate(lines) if line.rstrip("\r\n") == title]
    if not starts:
        head = document.rstrip("\n")
        return f"{head}\n\n{body}" if head else body
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith(("# ", "## "))), len(lines))
    before, after = "".join(lines[:start]), "".join(lines[end:])
    return before + body + (f"\n{after}" if after else "")


def runs_in_processes(script: str, one_run_args: Sequence[str], runs: int) -> list[Any]:
    """`runs` runs of `script --one-run ...`, each a process of its own (its own server): the
    JSON of each one's last line. A run's error output goes to the terminal as it happens."""
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, script, "--one-run", *one_run_args], stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise BenchmarkError(f"{Path(script).name} --one-run ended with exit status {done.returncode}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def repeated_main(
    script: str,
    doc: str | None,
    argv: list[str] | None,
    one_run: Callable[[int], Any],
    section: Callable[[list[Any], str], str],
    results: Path,
    title: str,
    repetitions: tuple[int, str],
) -> int:
    """The command line of a benchmark made of `--runs` processes of `--repetitions` each: one
    process runs `one_run(repetitions)` and prints its JSON; the parent collects the runs and
    writes `section(runs, command)` as its section of RESULTS.md. `repetitions`: the default and
    what one repetition is, for the help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    default, what = repetitions
    parser.add_argument("--repetitions", type=int, default=default, help=f"{what} per run (default {default})")
    parser.add_argument("--runs", type=int, default=2, help="runs, each a process with its own server (default 2)")
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(given)
    if args.one_run:
        print(json.dumps(one_run(args.repetitions)))
        return 0
    runs = runs_in_processes(script, ["--repetitions", str(args.repetitions)], args.runs)
    write_section(results, title, section(runs, command_line(script, given)))
    return 0


def write_section(results: Path, title: str, section: str) -> None:
    """Print `section` and put it in place of its old one in RESULTS.md."""
    print(section)
    results.write_text(replace_titled_section(results.read_text() if results.exists() else "", title, section))


def yes(met: bool) -> str:
    return "yes" if met else "no"


def machine_description(packages: Sequence[str]) -> list[str]:
    """The facts a reader needs to compare figures: hardware, versions, and the library's commit."""
    cpu = _first_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    ram_kb = _first_field("/proc/meminfo", "MemTotal")
    ram = f"{int(ram_kb.split()[0]) / 1024**2:.1f} GiB" if ram_kb else "unknown"
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores",
        f"RAM: {ram}",
        f"OS: {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        "Packages: " + ", ".join(f"{name} {_version(name)}" for name in packages),
        f"snowload_nb source: {_git_state()}",
    ]


def command_line(script: str, given: Sequence[str]) -> str:
    """How to run this again from the repository root."""
    python = os.path.relpath(sys.executable, REPO) if Path(sys.executable).is_relative_to(REPO) else sys.executable
    return shlex.join([python, os.path.relpath(Path(script).resolve(), REPO), *given])


def _first_field(path: str, name: str) -> str | None:
    with contextlib.suppress(OSError), open(path) as lines:
        for line in lines:
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    return None


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_state() -> str:
    """The commit, and whether snowload_nb/ differed from it: the library may change between runs."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "snowload_nb"], cwd=REPO, capture_output=True, text=True
        )
    except OSError:
        return "unknown (no git)"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    changes = "with uncommitted changes in snowload_nb/" if dirty.stdout.strip() else "no uncommitted changes"
    return f"commit {head.stdout.strip()}, {changes}"


def children_cpu_seconds() -> float | None:
    """CPU seconds (user + system) of this process's children so far: the server's, while it runs
    in a process of its own. None where /proc cannot say (not Linux)."""
    clock_ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        tasks = list(Path(f"/proc/{os.getpid()}/task").iterdir())
    except OSError:
        return None
    for task in tasks:
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                    total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / clock_ticks


@dataclass
class Spent:
    """What one timed step cost: wall seconds, and CPU seconds here and in the server's process."""

    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def cpu(self) -> float | None:
        return None if self.server_cpu is None else self.client_cpu + self.server_cpu


@contextlib.contextmanager
def spending() -> Iterator[Spent]:
    """Time a step by the wall clock and by the CPU both processes spent on it (on a machine whose
    cores the server shares, a load cannot end sooner than its CPU seconds over the cores)."""
    spent = Spent()
    server_before = children_cpu_seconds()
    cpu_before = time.process_time()
    start = time.perf_counter()
    try:
        yield spent
    finally:
        spent.seconds = time.perf_counter() - start
        spent.client_cpu = time.process_time() - cpu_before
        server_after = children_cpu_seconds()
        if server_before is not None and server_after is not None:
            spent.server_cpu = server_after - server_before


class DisplayClock:
    """CPU seconds spent on progress: the refresher thread (snapshots and draws) and the final draw.

    Wall-time ratios between loads carry the embedded server's noise (tens of percent between
    identical runs here); the display's own CPU time does not, so it is measured directly too.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        import snowload_nb.loader as loader_module
        from snowload_nb.views.refresher import Refresher

        original_run = Refresher._run
        original_make_view = loader_module.make_view
        clock = self

        def run(refresher: Refresher) -> None:
            try:
                original_run(refresher)
            finally:
                clock.seconds += time.thread_time()  # this thread did nothing but draw

        def make_view(*args: Any, **kwargs: Any) -> Any:
            view = original_make_view(*args, **kwargs)
            original_close = view.close

            def close(snapshot: Any) -> None:
                started = time.thread_time()
                original_close(snapshot)
                clock.seconds += time.thread_time() - started

            view.close = close
            return view

        Refresher._run = run  # type: ignore[method-assign]
        loader_module.make_view = make_view  # type: ignore[assignment]
        try:
            yield
        finally:
            Refresher._run = original_run  # type: ignore[method-assign]
            loader_module.make_view = original_make_view
