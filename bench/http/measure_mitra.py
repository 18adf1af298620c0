"""Measures a running mitra-exporter the way drive_blackbox.py measures blackbox_exporter:
over DURATION seconds it reads the process's CPU seconds and resident memory from /proc,
counts probes from mitra_probe_runs_total, and scrapes /metrics once per INTERVAL as
Prometheus would, checking on every scrape that each check's phases
(probe_http_duration_seconds) add up to no more than its duration (probe_duration_seconds).
Writes JSON.

    measure_mitra.py METRICS_URL PID INTERVAL DURATION OUTPUT"""
import json
import sys
import time
import urllib.request

from timing import MemorySampler, cpu_seconds, memory, phase_accuracy, summarise_accuracy

url, pid, interval, duration, output = sys.argv[1:6]
pid, interval, duration = int(pid), float(interval), float(duration)


def scrape():
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def parse(text):
    """(name, labels dict, value) for every sample line."""
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        head, _, value = line.rpartition(" ")
        name, _, rest = head.partition("{")
        labels = {}
        for pair in rest.rstrip("}").split('",'):
            if "=" in pair:
                key, _, val = pair.partition("=")
                labels[key] = val.strip('"')
        yield name, labels, float(value)


def probes(text):
    runs = {"success": 0.0, "failure": 0.0}
    for name, labels, value in parse(text):
        if name == "mitra_probe_runs_total":
            runs[labels.get("result", "failure")] = runs.get(labels.get("result", "failure"), 0) + value
    return runs


def accuracy(text):
    phases, totals = {}, {}
    for name, labels, value in parse(text):
        if name == "probe_http_duration_seconds":
            phases[labels["check"]] = phases.get(labels["check"], 0.0) + value
        elif name == "probe_duration_seconds":
            totals[labels["check"]] = value
    return [phase_accuracy(phases[c], totals[c]) for c in totals if c in phases and totals[c] > 0]


first = scrape()
start_runs = probes(first)
cpu_start = cpu_seconds(pid)
rss_sampler = MemorySampler(pid).start()
started = time.monotonic()
samples, scrapes, bytes_ = [], 0, len(first)
while time.monotonic() - started < duration:
    time.sleep(max(0.0, min(interval, duration - (time.monotonic() - started))))
    text = scrape()
    scrapes += 1
    bytes_ = len(text)
    samples += accuracy(text)
elapsed = time.monotonic() - started
cpu = cpu_seconds(pid) - cpu_start
end_runs = probes(scrape())
rss, peak = memory(pid)
rss_median = rss_sampler.stop()
count = sum(end_runs.values()) - sum(start_runs.values())
result = {
    "seconds": elapsed, "probes": count, "failures": end_runs["failure"] - start_runs["failure"],
    "cpu_seconds": cpu, "cpu_seconds_per_1000_probes": cpu / count * 1000 if count else 0,
    "rss_bytes": rss, "rss_median_bytes": rss_median, "peak_rss_bytes": peak, "metrics_bytes": bytes_, "scrapes": scrapes,
}
result.update(summarise_accuracy(samples))
json.dump(result, open(output, "w"), sort_keys=True)
