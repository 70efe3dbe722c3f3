"""Export: the monthly workbook of 10,000 and 100,000 demo reports, against the floor.

The floor is plain openpyxl write-only writing the same cell values from a Python
list, with no database. Export time and peak RSS are those of the whole
`adr export` process; rows are those of every sheet (reports, drugs and the holder
form's rows, one per reaction and suspect drug). Run: `make bench` (or
`.venv/bin/python -m bench.export`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook, load_workbook

ADR = str(Path(sys.executable).with_name("adr"))
MONTH = "2026-10"


def run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command; return its wall time, its peak RSS in MB and what it printed."""
    elapsed, _, rss, output = run_with_cpu(args, env)
    return elapsed, rss, output


def run_with_cpu(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run a command; return its wall time, its CPU seconds (user and system), its peak RSS in
    MB and what it printed. On a shared machine the CPU time tells more than the wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    output = process.stdout.read() if process.stdout else ""
    assert os.waitstatus_to_exitcode(status) == 0, output
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss // 1024, output.strip()


def floor(path: Path) -> tuple[float, float]:
    """Time plain write-only openpyxl writing the workbook's own cell values from lists: wall
    and CPU seconds."""
    source = load_workbook(path, read_only=True)
    sheets = {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in source}
    source.close()
    started, cpu = time.perf_counter(), time.process_time()
    workbook = Workbook(write_only=True)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path.with_suffix(".floor.xlsx"))
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print("== export ==")
    print(
        "reports   drugs    holder   export s  rows/s   peak RSS MB  floor s  export/floor"
        "  export CPU s  floor CPU s  CPU ratio"
    )
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
            run([ADR, "db", "upgrade"], env)
            run([ADR, "demo-data", "--reports", str(size), "--month", MONTH, "--seed", "7"], env)
            path = Path(folder) / "export.xlsx"
            elapsed, cpu, rss, output = run_with_cpu([ADR, "export", MONTH, "-o", str(path)], env)
            counts = output.split(", ")
            drugs = int(counts[1].split()[0])
            holder = int(counts[3].split()[0]) if len(counts) > 3 else 0
            base, base_cpu = floor(path)
            rows = size + drugs + holder
            print(
                f"{size:>7}  {drugs:>7}  {holder:>7}  {elapsed:>8.1f}  {rows / elapsed:>7.0f}"
                f"  {rss:>11}  {base:>7.1f}  {elapsed / base:>12.2f}"
                f"  {cpu:>12.1f}  {base_cpu:>11.1f}  {cpu / base_cpu:>9.2f}"
            )


if __name__ == "__main__":
    main()
