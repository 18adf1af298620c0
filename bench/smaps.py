"""Where a process's resident memory is: /proc/PID/smaps summed by mapping, largest first,
plus its thread count. Used to explain the VmRSS figures of the benchmarks.

    python3 bench/smaps.py PID [LINES]

Rows: each mapped file (its code, read-only data and written pages together), "[heap]",
"[anon]" (anonymous mappings: glibc arenas of other threads, mmap'd buffers and thread
stacks), "[stack]"; columns Rss, of it anonymous, in KiB."""
import collections
import os
import sys

pid, lines = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
rss, anon = collections.Counter(), collections.Counter()
name = None
with open(f"/proc/{pid}/smaps") as smaps:
    for line in smaps:
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and not fields[0].endswith(":"):
            path = fields[5] if len(fields) > 5 else "[anon]"
            name = os.path.basename(path) if path.startswith("/") else path
        elif fields[0] == "Rss:":
            rss[name] += int(fields[1])
        elif fields[0] == "Anonymous:":
            anon[name] += int(fields[1])
threads = len(os.listdir(f"/proc/{pid}/task"))
print(f"{'mapping':40}{'Rss KiB':>10}{'anon KiB':>10}")
for mapping, kib in rss.most_common(lines):
    print(f"{mapping[:40]:40}{kib:>10}{anon[mapping]:>10}")
rest = sum(rss.values()) - sum(kib for _, kib in rss.most_common(lines))
print(f"{'(the rest)':40}{rest:>10}")
print(f"{'total':40}{sum(rss.values()):>10}{sum(anon.values()):>10}   threads: {threads}")
