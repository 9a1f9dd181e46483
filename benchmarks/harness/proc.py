"""Child processes and memory: every tool runs in its own process, watched from outside.

:func:`measure` runs a command and reports its wall time, CPU time and peak
resident memory (its descendants included), killing it if its memory passes
a guard or it runs out of time. :func:`call` runs a function of this package
in a fresh Python process that way and returns what the function returned
(printed as one ``RESULT`` line of JSON). The rest reads a process's own
memory: current and peak RSS, and resetting the peak before the timed runs.
"""

from __future__ import annotations

import codecs
import gc
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parents[1]  # benchmarks/
ROOT = HERE.parent
GB = 1024 ** 3
MB = 1024 ** 2


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with the repository and ``benchmarks/`` on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(HERE), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def default_guard(gb: float | None) -> int:
    """The memory guard in bytes: ``gb`` GB, or 80 % of the machine's RAM."""
    return int(gb * GB) if gb else int(0.8 * psutil.virtual_memory().total)


# --------------------------------------------------------------------------- watching a child

def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants (0 once it is gone)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _stamp_pieces(master: int, t0: float, err: Any, events: list[tuple[float, str]]) -> None:
    """Read a pseudo-terminal until it closes: copy the text to ``err`` and record each
    piece (text up to ``\\r`` or ``\\n``) with the arrival time of its first byte."""
    buf, buf_t = "", 0.0
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        now = time.perf_counter() - t0
        text = decode(chunk)
        err.write(text)
        if not buf:
            buf_t = now
        *pieces, rest = re.split(r"[\r\n]", buf + text)
        for i, p in enumerate(pieces):
            if p.strip():
                events.append((buf_t if i == 0 else now, p))
        if pieces:
            buf_t = now
        buf = rest
    if buf.strip():
        events.append((buf_t, buf))


def measure(cmd: list[str], *, guard: int, timeout: float, env: dict[str, str] | None = None,
            cwd: Path | None = None, tty_stderr: bool = False) -> dict[str, Any]:
    """Run ``cmd``; its wall time, CPU time and peak RSS (descendants included).

    The parent polls the process tree's RSS every 50 ms and kills the tree when
    it passes ``guard`` bytes or ``timeout`` seconds. *peak_rss* is the larger
    of the child's ``ru_maxrss`` (``os.wait4``) and the largest RSS polled.
    With ``tty_stderr`` the child's stderr is a pseudo-terminal (so that a
    progress display draws every update) and each piece of it is timestamped
    as it arrives (``events``).
    """
    import pty

    events: list[tuple[float, str]] = []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        master = slave = -1
        if tty_stderr:
            master, slave = pty.openpty()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=slave if tty_stderr else err, cwd=cwd,
                                env=env or child_env(), start_new_session=True)
        reader = None
        if tty_stderr:
            os.close(slave)
            reader = threading.Thread(target=_stamp_pieces, args=(master, t0, err, events),
                                      daemon=True)
            reader.start()
        killed, sampled = None, 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _tree_rss(proc.pid)
            sampled = max(sampled, rss)
            if rss > guard:
                killed = (f"out of memory: killed by the memory guard at RSS {rss / GB:.2f} GB "
                          f"> {guard / GB:.2f} GB")
            elif time.perf_counter() - t0 > timeout:
                killed = f"killed: no result within {timeout:.0f} s"
            if killed:
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc
        if reader is not None:
            reader.join(timeout=5)
            os.close(master)
        out.seek(0)
        err.seek(0)
        maxrss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return {"rc": rc, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                "sys_s": usage.ru_stime, "peak_rss": max(maxrss, sampled),
                "stdout": out.read(), "stderr": err.read(), "events": events, "killed": killed}


def failure(m: dict[str, Any]) -> str | None:
    """Why a :func:`measure`d run failed (None if it did not): the guard, a signal, or the
    last exception line of its stderr."""
    rc = m["rc"]
    if m["killed"]:
        return str(m["killed"])
    if rc == 0:
        return None
    if rc < 0:
        return f"killed by signal {-rc}" + (" (out of memory?)" if rc == -9 else "")
    lines = [x for x in m["stderr"].splitlines() if x.strip()]
    exc = [x for x in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b", x)]
    reason = (exc or lines or [f"exit code {rc}"])[-1]
    return reason if len(reason) <= 240 else reason[:237] + "..."


# --------------------------------------------------------------------------- a function in a child

def command(target: str, **kwargs: Any) -> list[str]:
    """The command line that runs ``module:function(**kwargs)`` in a fresh Python process
    (the function's module is found on :func:`child_env`'s path)."""
    return [sys.executable, "-m", "harness.proc", target, json.dumps(kwargs, default=str)]


def result(m: dict[str, Any]) -> dict[str, Any] | None:
    """What the function of a :func:`command` returned, from its ``RESULT`` line."""
    for line in m["stdout"].splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    return None


def call(target: str, *, guard: int, timeout: float, env: dict[str, str] | None = None,
         **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` of ``benchmarks/`` in a fresh Python process.

    Returns the function's result (a JSON-able dict), or ``{"failed": reason,
    "stderr": last lines}`` if the child failed or printed no result.
    """
    m = measure(command(target, **kwargs), guard=guard, timeout=timeout, env=env)
    res = result(m)
    if res is None:
        return {"failed": failure(m) or "no result", "stderr": m["stderr"].splitlines()[-15:]}
    return res


def call_checked(target: str, **kwargs: Any) -> dict[str, Any]:
    """:func:`call` with no guard and no time limit (data generation); SystemExit on failure."""
    res = call(target, guard=1 << 62, timeout=float("inf"), **kwargs)
    if "failed" in res:
        tail = "\n    | ".join(res["stderr"])
        raise SystemExit(f"{target} failed: {res['failed']}\n    | {tail}")
    return res


def _main(argv: list[str]) -> int:
    """``python -m harness.proc module:function JSON``: the child side of :func:`call`."""
    target, kwargs = argv
    module, _, name = target.partition(":")
    result = getattr(importlib.import_module(module), name)(**json.loads(kwargs))
    print("RESULT " + json.dumps(result if result is not None else {}), flush=True)
    return 0


# --------------------------------------------------------------------------- own memory

def status(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes; 0 without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def ru_maxrss() -> int:
    """This process's peak RSS since it started, in bytes."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def settle_memory() -> None:
    """Free garbage and hand freed memory back to the OS (Arrow's pool, glibc's heap), so
    that the RSS before the timed runs does not depend on when allocators decay."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
