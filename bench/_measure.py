"""Run a command and report its wall time, CPU time and peak RSS as JSON on stdout.

vs_pastiche.py launches every measured tool through this small process: a child's ru_maxrss
also counts the memory of the process it was forked from (until exec), so forking the tools
straight from the benchmark (which holds torch and a VGG-19) would report its size, not theirs.
An argument "{LAUNCH}" is replaced by time.time() at the moment the command is started.

    python bench/_measure.py LOG -- CMD ARG...
"""
import json
import os
import subprocess
import sys
import time


def main() -> int:
    log, sep, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    assert sep == "--" and cmd
    with open(log, "w") as f:
        t = time.time()
        proc = subprocess.Popen([repr(t) if c == "{LAUNCH}" else c for c in cmd], stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.time() - t
    print(json.dumps({"wall_s": wall, "peak_rss_mb": ru.ru_maxrss / 1024.0, "cpu_s": ru.ru_utime + ru.ru_stime,
                      "exit_code": os.waitstatus_to_exitcode(status)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
