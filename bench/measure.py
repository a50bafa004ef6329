"""What the benchmark probes measure about their own process."""

from pathlib import Path


def peak_rss_kib() -> int:
    """VmHWM: unlike ru_maxrss, it is not inherited from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
