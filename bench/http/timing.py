"""Shared by the two drivers: process CPU and memory from /proc, and how well a probe's
phase timings account for its total duration."""
import os
import threading

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory(pid):
    """(VmRSS, VmHWM) in bytes."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, value = line.split(":")
                values[name] = int(value.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


class MemorySampler:
    """Reads VmRSS every `period` seconds while running: one reading at the end of a run
    lands wherever the exporter happens to be (between bursts of probes, just after a
    scrape built a body), so the median over the run is reported beside it."""

    def __init__(self, pid, period=0.5):
        self.pid, self.period = pid, period
        self.readings = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.period):
            self.readings.append(memory(self.pid)[0])

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """Stops sampling; returns the median VmRSS in bytes (0 without readings)."""
        self._stop.set()
        self._thread.join()
        ordered = sorted(self.readings)
        return ordered[len(ordered) // 2] if ordered else 0


def phase_accuracy(phase_sum, total):
    """The share of a probe's duration its phases explain (1.0 = all of it)."""
    return phase_sum / total


def summarise_accuracy(samples):
    """Median and worst share; probes whose phases add up to more than the total (beyond
    a microsecond of rounding) are counted as mismatches."""
    if not samples:
        return {"phase_share_median": None, "phase_share_min": None, "phase_mismatches": 0, "phase_samples": 0}
    ordered = sorted(samples)
    return {
        "phase_share_median": ordered[len(ordered) // 2],
        "phase_share_min": ordered[0],
        "phase_mismatches": sum(1 for s in samples if s > 1.0 + 1e-6),
        "phase_samples": len(samples),
    }
