"""The terminal view as a person sees it: `snowload demo --progress tqdm` in a tmux pane.

tmux is a real terminal emulator: what `capture-pane` returns is the screen after every cursor
move and line erase, so bars that overwrote each other or lines left behind would show.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.lab import REPO, VENV_BIN, wait_for

WIDTH, HEIGHT = 120, 30
WORKERS = 4  # the demo's default
COMMAND = "snowload demo --progress tqdm"
BAR_LINE = re.compile(r"^(Compress|Upload|Copy)\s+\d+%\|")
COPY_DONE = re.compile(r"^Copy\s+\d+%\|.*\| (\d+)/12 files")
FILE_ROW = re.compile(r"^  (\S+)\s+(compress|upload|copy)\s+(\d+%|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏])\|")
# Every line the demo's screen may hold; a piece of a re-wrapped line ("B/s · 187,500 rows") is none of them.
KNOWN_LINE = re.compile(
    r"^$|^(Compress|Upload|Copy) +\d+%\||^  \S+ +(compress|upload|copy) |^  (… and|\+ )|^Generated |^Done: "
    r"|^\d[\d,]* (compressing|uploading|copying|queued|loaded|retrying|staged|waiting)|^file  |^events_\d\d\.csv "
    r"|^every file's rows"
)
NARROW = 80  # the pane is narrowed to this mid-load: tmux re-wraps the old block, as most terminals do


class Tmux:
    """A private tmux server (its own socket, no config file) holding one pane of a fixed size."""

    def __init__(self, workdir: Path) -> None:
        self.socket = workdir / "tmux.sock"
        self.status_file = workdir / "tmux-command.status"
        self.env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        self.env.pop("TMUX", None)

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-u", "-f", "/dev/null", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
            check=True,
        )
        return done.stdout

    def start(self, command: str, cwd: Path) -> None:
        """Run `command` in the pane; its exit status goes to a file, and the pane then just waits.

        tmux's own record of a dead pane's status is not reliable (tmux 3.3 sometimes marks the
        pane dead without one), and a dead pane gets a note written over its last line; a pane
        left waiting in `cat` shows the screen exactly as the command left it.
        """
        self.status_file.unlink(missing_ok=True)
        script = f"{command}; echo $? > {shlex.quote(str(self.status_file))}; exec cat"
        self("new-session", "-d", "-s", "e2e", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd), script)

    def screen(self, history: bool = False) -> list[str]:
        """The pane's text; with `history`, from the first line it showed, had any scrolled away."""
        lines = self("capture-pane", "-p", "-t", "e2e", *(["-S", "-"] if history else [])).splitlines()
        lines = [line.rstrip() for line in lines]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def exit_status(self) -> int | None:
        """The command's exit status, None while it runs."""
        try:
            text = self.status_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self("kill-server")  # fails only if it is gone already


@pytest.fixture
def tmux(workdir: Path) -> Iterator[Tmux]:
    server = Tmux(workdir)
    try:
        yield server
    finally:
        server.stop()


def file_rows(screen: list[str]) -> list[str]:
    return [m.group(1) for line in screen if (m := FILE_ROW.match(line))]


def bar_lines(screen: list[str]) -> list[str]:
    return [m.group(1) for line in screen if (m := BAR_LINE.match(line))]


def test_terminal_view_in_tmux(tmux: Tmux, docs_img: Path) -> None:
    tmux.start(f"{shlex.quote(str(VENV_BIN / 'snowload'))} demo --progress tqdm", REPO)

    def mid_load() -> list[str] | None:
        screen = tmux.screen()
        if tmux.exit_status() is not None:
            raise AssertionError("the demo ended before a mid-load screen was seen:\n" + "\n".join(screen))
        # Kept: a screen where some files are copied and others still have their rows.
        copied = [int(m.group(1)) for line in screen if (m := COPY_DONE.match(line))]
        if copied and 0 < copied[0] < 12 and len(file_rows(screen)) >= 2:
            return screen
        return None

    # Sampling the screen: every capture is a whole screen, so the first that matches is kept.
    during = wait_for(mid_load, timeout=120, what="a screen with files copied and files in progress", interval=0.05)
    tmux("resize-window", "-t", "e2e", "-x", str(NARROW), "-y", str(HEIGHT))

    def one_narrow_block() -> list[str] | None:
        # Lines the terminal re-wrapped and pushed into its scrollback as it narrowed are out of
        # any program's reach; what must hold is the screen: one block, redrawn to the new width,
        # and no piece of a re-wrapped old line left on it.
        screen = tmux.screen()
        bars = [line for line in screen if BAR_LINE.match(line)]
        if len(bars) == 3 and all(len(line) < NARROW for line in bars) and all(map(KNOWN_LINE.match, screen)):
            return screen
        return None

    narrowed = wait_for(one_narrow_block, timeout=30, what=f"one block within {NARROW} columns after the resize")
    wait_for(lambda: tmux.exit_status() is not None, timeout=180, what="the demo to end")
    history = tmux.screen(history=True)
    end = tmux.screen()
    assert tmux.exit_status() == 0, "\n".join(history)
    assert bar_lines(narrowed) == ["Compress", "Upload", "Copy"], narrowed

    assert bar_lines(during) == ["Compress", "Upload", "Copy"], during
    rows = file_rows(during)
    assert len(rows) <= min(WORKERS, 8) and len(rows) == len(set(rows)), during

    assert history[0].startswith("Generated 12 CSV files"), history
    # one block on screen, within the new width
    assert bar_lines(end) == ["Compress", "Upload", "Copy"], end
    assert all(len(line) < NARROW for line in end if BAR_LINE.match(line)), end
    assert all(re.match(r"^(Compress|Upload|Copy)\s+100%\|█+\|", line) for line in end if BAR_LINE.match(line)), end
    assert not file_rows(end), f"file rows left on screen: {end}"
    done = [line for line in end if line.startswith("Done: ")]
    assert len(done) == 1 and re.match(r"Done: [\d,]+ rows into DEMO_EVENTS from 12 files \(12 loaded\)", done[0]), end
    assert "every file's rows are in the table." in end, end

    text = [
        f"$ {COMMAND}    # in a {WIDTH}x{HEIGHT} tmux pane; `tmux capture-pane -p` while it loads:",
        "",
        *during,
        "",
        f"# the pane narrowed to {NARROW} columns mid-load: the block is redrawn to fit, once:",
        "",
        *narrowed,
        "",
        "# and when it has finished (`tmux capture-pane -p`):",
        "",
        *end,
    ]
    (docs_img / "terminal.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
