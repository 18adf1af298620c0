"""Drives prometheus-blackbox-exporter like Prometheus would for N checks at a fixed interval
(each check probed via /probe once per interval, spread evenly), and reports the exporter
process's CPU seconds and resident memory over the run, and how well each probe's phases
account for its duration, as JSON."""
import concurrent.futures
import json
import sys
import threading
import time
import urllib.parse
import urllib.request

from timing import MemorySampler, cpu_seconds, memory, phase_accuracy, summarise_accuracy

blackbox, target, checks, interval, duration, pid, output = sys.argv[1:8]
checks, interval, duration, pid = int(checks), float(interval), float(duration), int(pid)
url = f"{blackbox}/probe?" + urllib.parse.urlencode({"module": "http_2xx", "target": target})
results = {"success": 0, "failure": 0, "error": 0}
shares = []
lock = threading.Lock()


def probe():
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        key = "success" if "\nprobe_success 1" in "\n" + body else "failure"
        phases, total = 0.0, 0.0
        for line in body.splitlines():
            if line.startswith("probe_http_duration_seconds{"):
                phases += float(line.rsplit(" ", 1)[1])
            elif line.startswith("probe_duration_seconds "):
                total = float(line.rsplit(" ", 1)[1])
        share = phase_accuracy(phases, total) if total > 0 else None
    except Exception:
        key, share = "error", None
    with lock:
        results[key] += 1
        if share is not None:
            shares.append(share)


baseline_rss, _ = memory(pid)
cpu_start = cpu_seconds(pid)
rss_sampler = MemorySampler(pid).start()
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
cpu = cpu_seconds(pid) - cpu_start
rss, peak = memory(pid)
rss_median = rss_sampler.stop()
probes = results["success"] + results["failure"] + results["error"]
result = {
    "checks": checks, "seconds": elapsed, "probes": probes, "failures": results["failure"] + results["error"],
    "cpu_seconds": cpu, "cpu_seconds_per_1000_probes": cpu / probes * 1000 if probes else 0,
    "rss_bytes": rss, "rss_median_bytes": rss_median, "peak_rss_bytes": peak, "baseline_rss_bytes": baseline_rss,
}
result.update(summarise_accuracy(shares))
json.dump(result, open(output, "w"), sort_keys=True)
