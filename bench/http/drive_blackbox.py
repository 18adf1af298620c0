"""Drives prometheus-blackbox-exporter like Prometheus would for N checks at a fixed interval
(each check probed via /probe once per interval, spread evenly), and reports the exporter
process's CPU seconds and resident memory over the run as JSON."""
import concurrent.futures
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

blackbox, target, checks, interval, duration, pid, output = sys.argv[1:8]
checks, interval, duration, pid = int(checks), float(interval), float(duration), int(pid)
ticks = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def memory():
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                values[name] = int(value.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


url = f"{blackbox}/probe?" + urllib.parse.urlencode({"module": "http_2xx", "target": target})
results = {"success": 0, "failure": 0, "error": 0}
lock = threading.Lock()


def probe():
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        key = "success" if "\nprobe_success 1" in "\n" + body else "failure"
    except Exception:
        key = "error"
    with lock:
        results[key] += 1


baseline_rss, _ = memory()
cpu_start = cpu_seconds()
started = time.monotonic()
with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
    rounds = max(1, int(duration // interval))
    spacing = interval / checks
    for round_index in range(rounds):
        for index in range(checks):
            due = started + round_index * interval + index * spacing
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(probe)
    remaining = started + rounds * interval - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
elapsed = time.monotonic() - started
cpu = cpu_seconds() - cpu_start
rss, peak = memory()
probes = results["success"] + results["failure"] + results["error"]
json.dump({
    "checks": checks, "seconds": elapsed, "probes": probes, "failures": results["failure"] + results["error"],
    "cpu_seconds": cpu, "cpu_seconds_per_1000_probes": cpu / probes * 1000 if probes else 0,
    "rss_bytes": rss, "peak_rss_bytes": peak, "baseline_rss_bytes": baseline_rss,
}, open(output, "w"), sort_keys=True)
