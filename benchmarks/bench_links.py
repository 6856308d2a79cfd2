"""Compression on simulated links: each fixed choice and `compression="auto"`, side by side.

Run from the repository root:
`.venv/bin/python benchmarks/bench_links.py [--repetitions N] [--runs N] [--links L,...] [--rtt-ms MS]`.

The embedded server runs in a process of its own, behind a throttling TCP proxy on loopback
(tests/tcp_proxy.py: a token bucket each way, shared by every connection, as an uplink is) at
20 Mbit/s, 100 Mbit/s, 1 Gbit/s, and unthrottled. Per link, every case loads the same CSV files
into a fresh table (checked by value: count and sum of ids), in a balanced order each repetition,
each through a new proxy, so `auto` starts every load knowing nothing of the link. The links have
a bandwidth and no latency of their own unless `--rtt-ms` gives them round trips (a real uplink to
a cloud service: tens of ms), which every statement and PUT then waits for. A throttled link, or
one with round trips, stands for a server elsewhere, and the loader is told so (its address is
loopback only because the proxy is); unthrottled is the embedded server on this machine, as
`connect_local()` gives it. Reported: the
median seconds of each case, the bytes the client sent through the proxy, and auto's choices.

While each load runs in the background (`Loader.start`), the calling thread plays a notebook cell
every 50 ms (a short sleep, then a little Python) and records how late it answers: the worst
delay is the responsiveness figure (issue 16, item 4: within 0.5 s).

Each run is a process of its own with its own server; there are `--runs` of them (2 by default).
Writes its own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    BenchmarkError,
    DisplayClock,
    command_line,
    machine_description,
    round_order,
    runs_in_processes,
    server_process,
    write_section,
    yes,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import TcpProxy  # the test suite's proxy: one throttle for both

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "## Compression on simulated links"
SIZES_MB = (8, 6, 5, 5, 4, 4)  # --sizes-mb 28,24,20,20,16,12 is the 120 MB: slower to run
WORKERS = 4
LINKS = {"20 Mbit/s": 20e6 / 8, "100 Mbit/s": 100e6 / 8, "1 Gbit/s": 1e9 / 8, "unthrottled": None}
CASES = {  # name: Loader options
    "none": {"compression": "none"},
    "ISA-L 0": {"compression": "gzip", "compression_level": 0},
    "ISA-L 1 (old default)": {"compression": "gzip", "compression_level": 1},
    "ISA-L 2": {"compression": "gzip", "compression_level": 2},
    "ISA-L 3": {"compression": "gzip", "compression_level": 3},
    **{f"zstd {level}": {"compression": "zstd", "compression_level": level} for level in (1, 3, 6, 9, 12)},
    "auto": {"compression": "auto"},
    "auto, warm": {"compression": "auto"},
}
DISPLAY_VIEWS = ("tqdm", "widget")  # the widget headless: its model updates and renders, no browser
SLOW_LINK = "20 Mbit/s"
WARM = "auto, warm"  # after the other loads on this link, in the same session: knows the link
OLD_DEFAULT = "ISA-L 1 (old default)"
CELL_EVERY = 0.05  # s between the calling thread's cells during a load
AGAIN = " again"  # with --twice: each fixed choice loaded a second time, as a case of its own
PACKAGES = ("snowflake-connector-python", "fakesnow", "duckdb", "isal", "zstandard", "snowload_nb")


def run_cases(twice: bool) -> dict[str, dict[str, Any]]:
    """The cases a run loads; `twice`: every fixed choice also once more, under its own name."""
    if not twice:
        return CASES
    again = {f"{case}{AGAIN}": options for case, options in CASES.items() if not case.startswith("auto")}
    return {
        **{c: o for c, o in CASES.items() if not c.startswith("auto")},
        **again,
        "auto": CASES["auto"],
        WARM: CASES[WARM],
    }


def one_run(
    repetitions: int,
    sizes_mb: tuple[int, ...] = SIZES_MB,
    links: tuple[str, ...] = tuple(LINKS),
    rtt: float = 0.0,
    twice: bool = False,
) -> dict[str, Any]:
    """Per link and case: seconds, bytes sent, worst cell delay, and auto's choices."""
    import snowload_nb as sl
    from snowload_nb.demo import generate_files
    from snowload_nb.local import embedded_session

    out: dict[str, Any] = {"load": os.getloadavg(), "links": {}}
    cases_run = run_cases(twice)
    with tempfile.TemporaryDirectory(prefix="bench-links-") as folder, server_process() as kwargs:
        files = generate_files(Path(folder), [mb * 1_000_000 for mb in sizes_mb])
        paths = [str(f.path) for f in files]
        expected = (sum(f.rows for f in files), sum(f.id_sum for f in files))
        setup = embedded_session(kwargs)
        number = 0
        out["idle_delay"] = _cells_until(_after(2.0))  # the cell's worst delay with no load running
        for link in links:
            rate = LINKS[link]
            cases: dict[str, dict[str, list[Any]]] = {
                c: {"s": [], "sent": [], "delay": [], "codecs": []} for c in cases_run
            }
            latency = rtt / 2  # each way
            _seen_as_remote(rate is not None or rtt > 0)
            shared = TcpProxy(kwargs["port"], rate=rate, latency=latency).start()  # the link the session has measured
            try:
                for repetition in range(repetitions):
                    for case in [*round_order([c for c in cases_run if c != WARM], repetition), WARM]:
                        number += 1
                        # auto starts cold on a proxy of its own: a link this session never used
                        proxy = (
                            TcpProxy(kwargs["port"], rate=rate, latency=latency).start() if case == "auto" else shared
                        )
                        try:
                            entry = _load(sl, setup, proxy, kwargs, cases_run[case], paths, f"LINK_{number}")
                        finally:
                            if proxy is not shared:
                                proxy.stop()
                        result, facts, seconds, sent, delay = entry
                        if not result.ok or facts != expected:
                            raise BenchmarkError(f"{link} {case}: {result.summary()}; table holds {facts}")
                        cases[case]["s"].append(seconds)
                        cases[case]["sent"].append(sent)
                        cases[case]["delay"].append(delay)
                        cases[case]["codecs"].append(sorted({f"{f.codec} {f.compression_level}" for f in result.files}))
            finally:
                shared.stop()
            out["links"][link] = cases
        out["display"] = _display_share(sl, setup, kwargs, paths, expected, rtt)
    out["load_after"] = os.getloadavg()
    return out


def _display_share(
    sl: Any, setup: Any, kwargs: dict[str, Any], paths: list[str], expected: tuple[int, int], rtt: float
) -> dict[str, float]:
    """Per view, the display's CPU seconds (refresher thread and final draw) over the load's
    seconds, for an auto load at 20 Mbit/s, where auto compresses hardest (issue 16, item 4)."""
    shares = {}
    _seen_as_remote(True)
    for view in DISPLAY_VIEWS:
        proxy = TcpProxy(kwargs["port"], rate=LINKS[SLOW_LINK], latency=rtt / 2).start()
        clock = DisplayClock()
        try:
            with clock.watching(), contextlib.redirect_stderr(io.StringIO()):  # tqdm's bars: not wanted here
                result, facts, seconds, _, _ = _load(
                    sl, setup, proxy, kwargs, {"compression": "auto", "progress": view}, paths, f"LINK_VIEW_{view}"
                )
        finally:
            proxy.stop()
        if not result.ok or facts != expected:
            raise BenchmarkError(f"{SLOW_LINK} auto with {view}: {result.summary()}; table holds {facts}")
        shares[view] = clock.seconds / seconds
    return shares


def _seen_as_remote(remote: bool) -> None:
    """Whether the loader takes the server behind the proxy for one elsewhere: a simulated link
    stands for a network, whose far end's CPU is not this machine's."""
    import snowload_nb.loader as loader_module
    from snowload_nb.codec_plan import is_loopback

    loader_module.is_loopback = (lambda host: False) if remote else is_loopback


def _load(
    sl: Any, setup: Any, proxy: TcpProxy, kwargs: dict[str, Any], options: dict[str, Any], paths: list[str], name: str
) -> tuple[Any, tuple[int, int], float, int, float]:
    """One load through `proxy` into a fresh table: result, the table's (rows, sum of ids),
    seconds, bytes the client sent, and the worst delay of a cell played meanwhile."""
    from snowload_nb import sql
    from snowload_nb.demo import DEMO_COLUMNS
    from snowload_nb.local import embedded_session

    table = sql.QualifiedName.parse(name)
    setup.cursor().execute(sql.create_table(table, DEMO_COLUMNS))
    through = kwargs | {"port": proxy.port}
    conn = embedded_session(through)
    sent = proxy.sent[0]
    try:
        loader = sl.Loader(
            conn,
            str(table),
            workers=WORKERS,
            connect=lambda: embedded_session(through),
            **({"progress": "none"} | options),
        )
        ended: list[float] = []
        started = time.perf_counter()
        job = loader.start(paths)
        # The end as the load reaches it: read after the cells, it would be late by up to a cell.
        job.add_done_callback(lambda _: ended.append(time.perf_counter()))
        delay = _cells_until(job.done)
        result = job.result()
        seconds = ended[0] - started
    finally:
        conn.close()
    sent = proxy.sent[0] - sent
    count, ids = setup.cursor().execute(f'SELECT COUNT(*), SUM("ID") FROM {table.sql}').fetchone()
    setup.cursor().execute(f"DROP TABLE {table.sql}")
    return result, (int(count), int(ids or 0)), seconds, sent, delay


def _after(seconds: float) -> Any:
    end = time.perf_counter() + seconds
    return lambda: time.perf_counter() >= end


def _cells_until(done: Any) -> float:
    """Play a notebook cell every CELL_EVERY s until `done()`: the worst delay past its time."""
    worst = 0.0
    while not done():
        due = time.perf_counter() + CELL_EVERY
        time.sleep(CELL_EVERY)
        sum(range(20_000))  # the cell's own work: about a millisecond
        worst = max(worst, time.perf_counter() - due)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=2, help="loads of each case per link per run (default 2)")
    parser.add_argument("--runs", type=int, default=2, help="runs, each a process with its own server (default 2)")
    parser.add_argument(
        "--sizes-mb", default=",".join(map(str, SIZES_MB)), help="the CSV files' sizes in MB, comma-separated"
    )
    parser.add_argument("--links", default=",".join(LINKS), help=f"comma-separated, of: {', '.join(LINKS)}")
    parser.add_argument(
        "--rtt-ms", type=float, default=0.0, help="round-trip time every link adds, in ms (default 0: a bandwidth only)"
    )
    parser.add_argument(
        "--twice",
        action="store_true",
        help="load every fixed choice twice per repetition, and report how the best one's second loading "
        "compares with it: what a chooser that always picks the best could show here",
    )
    parser.add_argument("--one-run", action="store_true", help=argparse.SUPPRESS)
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(given)
    sizes = tuple(int(mb) for mb in args.sizes_mb.split(","))
    links = tuple(link.strip() for link in args.links.split(","))
    if unknown := [link for link in links if link not in LINKS]:
        parser.error(f"unknown links {unknown}; known: {', '.join(LINKS)}")
    if args.one_run:
        print(json.dumps(one_run(args.repetitions, sizes, links, args.rtt_ms / 1000, args.twice)))
        return 0
    options = ["--repetitions", str(args.repetitions), "--sizes-mb", args.sizes_mb, "--links", ",".join(links)]
    options += ["--rtt-ms", str(args.rtt_ms), *(["--twice"] if args.twice else [])]
    runs = runs_in_processes(__file__, options, args.runs)
    # A run other than the standard one keeps a section of its own.
    title = TITLE
    if (sizes, links, args.rtt_ms) != (SIZES_MB, tuple(LINKS), 0.0):
        title = f"{TITLE}: {sum(sizes)} MB at {', '.join(links)}"
        title += f", {args.rtt_ms:g} ms round trips" if args.rtt_ms else ""
    if args.twice:
        title += ", each fixed choice loaded twice"
    write_section(RESULTS, title, _section(runs, command_line(__file__, given), title, sizes, links, args.rtt_ms))
    return 0


def _verdicts(verdicts: dict[str, list[bool]], what: str, autos: tuple[str, ...]) -> str:
    """Met in every run, per auto; a link this run did not load is not a yes."""
    if not verdicts[f"{what} {autos[0]}"]:
        return "not measured here"
    return "; ".join(yes(all(verdicts[f"{what} {a}"])) for a in autos)


def _count(verdicts: list[bool]) -> str:
    return f"{yes(all(verdicts))} ({sum(verdicts)} of {len(verdicts)})"


def _median(run: dict[str, Any], link: str, case: str) -> float:
    return statistics.median(run["links"][link][case]["s"])


def _resolution(runs: list[dict[str, Any]], links: tuple[str, ...], fixed: list[str]) -> list[str]:
    """How far the best fixed choice's own second loading, in the same run, is from it: a chooser
    that always picks the best choice scores this against the target, so a 5% target can be told
    from noise only where it is well under 1.05. Either loading of each choice may be the first."""
    lines = [
        "",
        "Each fixed choice was also loaded a second time in every repetition (a case of its own, in the "
        "same balanced order). Per link and run, the best fixed choice of one set of loadings, and how "
        "the same choice's loadings in the other set compare with it: what a chooser that always picks "
        "the best could score against the first target.",
        "",
        "| link | run | best of the first set | its second loadings / it | best of the second set "
        "| its first loadings / it |",
        "|---|---:|---|---:|---|---:|",
    ]
    within = []
    for link in links:
        for n, run in enumerate(runs, 1):
            first = {c: _median(run, link, c) for c in fixed}
            second = {c: _median(run, link, f"{c}{AGAIN}") for c in fixed}
            best_first = min(first, key=first.__getitem__)
            best_second = min(second, key=second.__getitem__)
            ratios = (second[best_first] / first[best_first], first[best_second] / second[best_second])
            within += [ratio <= 1.05 for ratio in ratios]
            lines.append(
                f"| {link} | {n} | {best_first}, {first[best_first]:.2f} s | {ratios[0]:.2f} | "
                f"{best_second}, {second[best_second]:.2f} s | {ratios[1]:.2f} |"
            )
    lines += ["", f"Such a chooser within 5% of the best fixed choice: {sum(within)} of {len(within)}."]
    return lines


def _section(
    runs: list[dict[str, Any]],
    command: str,
    title: str,
    sizes: tuple[int, ...],
    links: tuple[str, ...],
    rtt_ms: float = 0.0,
) -> str:
    fixed = [c for c in CASES if not c.startswith("auto")]
    autos = ("auto", WARM)
    lines = [
        title,
        "",
        f"`{command}` — {len(sizes)} CSV files ({sum(sizes)} MB), {WORKERS} workers, "
        '`progress="none"`, the server in its own process behind a token-bucket proxy on loopback'
        + (f" that also delays each byte {rtt_ms / 2:g} ms each way ({rtt_ms:g} ms round trips)" if rtt_ms else "")
        + "; each load checked by value. Seconds are medians over the repetitions of one run; "
        "MB sent is what the client sent through the proxy (PUTs and statements). `auto` starts "
        "cold (a link the session never used); `auto, warm` runs after the fixed loads on the same "
        "link in the same session, so it starts from the link rate they measured.",
        "",
        *(f"- {line}" for line in machine_description(PACKAGES)),
        *(
            f"- Run {n} load average (1, 5, 15 min; 2 cores shared with other agents): "
            f"{', '.join(f'{x:.1f}' for x in run['load'])} before, "
            f"{', '.join(f'{x:.1f}' for x in run['load_after'])} after"
            for n, run in enumerate(runs, 1)
        ),
        "",
        "| link | run | " + " | ".join(CASES) + " | auto / best fixed (cold, warm) | auto / ISA-L 1 | auto chose |",
        "|---|---:|" + "---:|" * len(CASES) + "---:|---:|---|",
    ]
    verdicts: dict[str, list[bool]] = {f"{what} {a}": [] for what in ("best", "slow", "fast") for a in autos}
    for link in links:
        for n, run in enumerate(runs, 1):
            cells = []
            for case in CASES:
                entry = run["links"][link][case]
                cells.append(f"{_median(run, link, case):.2f} s, {statistics.median(entry['sent']) / 1e6:.1f} MB")
            best = min(_median(run, link, c) for c in fixed)
            old = _median(run, link, OLD_DEFAULT)
            ratios_best, ratios_old, chose = [], [], []
            for a in autos:
                seconds = _median(run, link, a)
                ratios_best.append(f"{seconds / best:.2f}")
                ratios_old.append(f"{seconds / old:.2f}")
                chose.append(" / ".join(sorted({", ".join(c) for c in run["links"][link][a]["codecs"]})))
                verdicts[f"best {a}"].append(seconds <= best * 1.05)
                if link == "20 Mbit/s":
                    verdicts[f"slow {a}"].append(seconds <= old * 0.85)
                if link == "unthrottled":
                    verdicts[f"fast {a}"].append(seconds <= _median(run, link, "none"))
            lines.append(
                f"| {link} | {n} | {' | '.join(cells)} | {', '.join(ratios_best)} | {', '.join(ratios_old)} | "
                f"{'; '.join(chose)} |"
            )
    spreads = []
    for link in links:
        for case in CASES:
            medians = [_median(run, link, case) for run in runs]
            spreads.append((max(medians) - min(medians)) / statistics.median(medians))
    delays = [max(max(e["delay"]) for e in run["links"][link].values()) for run in runs for link in links]
    if any(f"{fixed[0]}{AGAIN}" in run["links"][links[0]] for run in runs):
        lines += _resolution(runs, links, fixed)
    idles = [run["idle_delay"] for run in runs]
    shares = [share for run in runs for share in run["display"].values()]
    lines += [
        "",
        f"Spread between the runs' medians, per link and case: median {statistics.median(spreads):.0%}, "
        f"largest {max(spreads):.0%}.",
        "",
        "Targets (issue 16), in every run (cold auto; warm auto):",
        "- auto within 5% of the best fixed choice on every link: "
        + "; ".join(_count(verdicts[f"best {a}"]) for a in autos),
        "- on 20 Mbit/s auto at least 15% faster than ISA-L 1: " + _verdicts(verdicts, "slow", autos),
        "- unthrottled auto at least as fast as none: " + _verdicts(verdicts, "fast", autos),
        f"- a notebook cell during a background load answers within 0.5 s: {yes(max(delays) <= 0.5)} "
        f"(worst delay over every load, every run: {max(delays):.3f} s; with no load running, over 2 s "
        f"before the loads: {', '.join(f'{idle:.3f} s' for idle in idles)})",
        f"- the display's own CPU share during an auto load at {SLOW_LINK} stays <= 3%: "
        f"{yes(max(shares) <= 0.03)} ("
        + "; ".join(
            f"run {n}: " + ", ".join(f"{view} {share:.2%}" for view, share in run["display"].items())
            for n, run in enumerate(runs, 1)
        )
        + ")",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"bench_links: {exc}", file=sys.stderr)
        sys.exit(1)
