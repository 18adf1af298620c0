#!/usr/bin/env python3
"""Loads the exporter's status page in headless Chromium and checks the KPI board's DOM.

    demo/browser_check.py URL NAME ARTIFACT_DIR [--ok KPI]... [--failing KPI]...
                          [--failing-collector TEXT]... [--no-failing-collectors] [--timeout SECONDS]

Polls `chromium --headless --dump-dom URL` until every KPI given with --ok shows "ok" and every
one given with --failing shows "failing" in its 5-minute cell (the board's windows fill as the
exporter samples), and the failing-collectors list matches; then saves a screenshot of the page
as ARTIFACT_DIR/status-page-NAME.png (also on failure, to see why). Exits 1 with the board as
the browser rendered it when the expectations are not met within the timeout.
"""
import argparse
import html.parser
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Board(html.parser.HTMLParser):
    """The KPI rows (`tr[data-kpi]` → {window: state}) and the failing-collectors entries."""

    def __init__(self):
        super().__init__()
        self.kpis = {}
        self.names = {}
        self.failing = None  # None: no failing-collectors element at all
        self._row = None
        self._cell = 0
        self._in_failing_item = False
        self._text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-kpi" in attrs:
            self._row = attrs["data-kpi"]
            self._cell = 0
            self.kpis[self._row] = {}
        elif tag == "td" and self._row is not None:
            self._cell += 1
            if "data-window" in attrs:
                self.kpis[self._row][attrs["data-window"]] = attrs.get("data-state", "")
                if attrs.get("class") != "kpi-" + attrs.get("data-state", ""):
                    self.kpis[self._row]["mismatch"] = attrs.get("class", "")
        elif tag in ("ul", "p") and attrs.get("class") == "failing-collectors":
            self.failing = []
        elif tag == "li" and self.failing is not None:
            self._in_failing_item = True
            self._text = []

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        elif tag == "li" and self._in_failing_item:
            self.failing.append("".join(self._text))
            self._in_failing_item = False

    def handle_data(self, data):
        if self._in_failing_item:
            self._text.append(data)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser_check.py: no chromium on PATH (demo/test.sh installs the Debian package)")


def run_browser(binary, profile, arguments, timeout=60):
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-extensions", "--user-data-dir=" + profile] + arguments
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit("browser_check.py: chromium failed (%d): %s" % (result.returncode, result.stderr[-2000:]))
    return result.stdout


def problems(board, args):
    found = []
    if not board.kpis:
        return ["no KPI board in the page"]
    for kpi in args.ok + args.failing:
        if kpi not in board.kpis:
            found.append("no row for KPI %s (rows: %s)" % (kpi, ", ".join(sorted(board.kpis))))
    for kpi, state in [(k, "ok") for k in args.ok] + [(k, "failing") for k in args.failing]:
        cells = board.kpis.get(kpi, {})
        if kpi in board.kpis and cells.get("5m") != state:
            found.append("KPI %s is %s over 5m, expected %s" % (kpi, cells.get("5m") or "missing", state))
    for kpi, cells in board.kpis.items():
        if "mismatch" in cells:
            found.append("KPI %s: class %s does not match its state" % (kpi, cells["mismatch"]))
        if set(cells) - {"mismatch"} != {"5m", "1h"}:
            found.append("KPI %s lacks a 5m or 1h cell" % kpi)
    if board.failing is None:
        found.append("no failing-collectors element")
    else:
        if args.no_failing_collectors and board.failing:
            found.append("failing collectors listed: %s" % "; ".join(board.failing))
        for text in args.failing_collector:
            if not any(text in entry for entry in board.failing):
                found.append("no failing collector mentions %r (listed: %s)" % (text, "; ".join(board.failing) or "none"))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("artifacts")
    parser.add_argument("--ok", action="append", default=[])
    parser.add_argument("--failing", action="append", default=[])
    parser.add_argument("--failing-collector", action="append", default=[])
    parser.add_argument("--no-failing-collectors", action="store_true")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    binary = chromium()
    os.makedirs(args.artifacts, exist_ok=True)
    screenshot = os.path.join(args.artifacts, "status-page-%s.png" % args.name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mitra-chromium-") as profile:
        deadline = started + args.timeout
        while True:
            dom = run_browser(binary, profile, ["--dump-dom", args.url])
            board = Board()
            board.feed(dom)
            found = problems(board, args)
            if not found or time.monotonic() > deadline:
                break
            time.sleep(3)
        run_browser(binary, profile, ["--screenshot=" + screenshot, "--window-size=1280,2200", "--hide-scrollbars", args.url])
        if not os.path.getsize(screenshot):
            found.append("empty screenshot")
    print("browser_check.py: %s: screenshot %s" % (args.name, screenshot))
    if found:
        for kpi, cells in sorted(board.kpis.items()):
            print("  %-45s 5m=%-8s 1h=%s" % (kpi, cells.get("5m"), cells.get("1h")), file=sys.stderr)
        sys.exit("browser_check.py: %s: FAIL: %s" % (args.name, "; ".join(found)))
    print("browser_check.py: %s: %d KPIs rendered; expectations met after %.1f s" % (args.name, len(board.kpis), time.monotonic() - started))


if __name__ == "__main__":
    main()
