"""fork_hold.py: N python3 children of one zygote held on a pipe, for bench/interp.sh.

  python3 fork_hold.py [-t SECONDS] N PYTHON

Starts `PYTHON forkserver.py hold N` (a zygote that forks N children, each
blocked in sys.stdin.read()) with its stdin the read end of an empty pipe,
waits until every child is blocked in read(0, ...) (/proc/PID/syscall),
and measures while all are held, the way bench/host_hold.c does:
  start_all_ms       zygote spawn until the last child blocked
  pss_kib, rss_kib   summed over /proc/PID/smaps_rollup of the zygote and children
  kernel_growth_kib  growth of Slab + KernelStack + PageTables + SecPageTables
                     + Percpu + VmallocUsed in /proc/meminfo since before the spawn
  host_kib_per_instance  (pss_kib + kernel_growth_kib) / N
printed as one JSON object. Then it closes the pipe (each child reads end
of file and exits, the zygote reaps them), killing the zygote's session if
it is not gone within 10 s. Waiting is bounded by -t (default 300 s): exit 1.
"""
import json
import os
import signal
import subprocess
import sys
import time

KEYS = ("Slab:", "KernelStack:", "PageTables:", "SecPageTables:", "Percpu:", "VmallocUsed:")


def kernel_kb():
    s = 0
    with open("/proc/meminfo") as f:
        for line in f:
            k = line.split()[0]
            if k in KEYS:
                s += int(line.split()[1])
    return s


def blocked_reading_stdin(pid):
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().startswith("0 0x0 ")
    except FileNotFoundError:
        return None


def rollup(pid):
    rss = pss = None
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def main():
    args = sys.argv[1:]
    limit = 300.0
    if len(args) >= 2 and args[0] == "-t":
        limit, args = float(args[1]), args[2:]
    if len(args) != 2:
        sys.exit("usage: fork_hold.py [-t SECONDS] N PYTHON")
    n, python = int(args[0]), args[1]
    zygote = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forkserver.py")
    r, w = os.pipe()
    os.set_inheritable(w, False)
    k0 = kernel_kb()
    t0 = time.monotonic()
    z = subprocess.Popen([python, zygote, "hold", str(n)], stdin=r, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, start_new_session=True, text=True)
    os.close(r)
    status = 1
    try:
        pids = []
        for line in z.stdout:
            if line.strip() == "ready":
                break
            pids.append(int(line))
        if len(pids) != n:
            sys.exit(f"fork_hold: the zygote forked {len(pids)} of {n} children")
        deadline = t0 + limit
        i = 0
        while i < n:
            b = blocked_reading_stdin(pids[i])
            if b is None:
                sys.exit(f"fork_hold: child {i} (pid {pids[i]}) ended before it blocked")
            if b:
                i += 1
                continue
            if time.monotonic() > deadline:
                sys.exit(f"fork_hold: {i} of {n} children blocked after {limit:.0f} s")
            time.sleep(0.0002)
        t_all = time.monotonic()
        rss = pss = 0
        for pid in [z.pid] + pids:
            a, b = rollup(pid)
            rss, pss = rss + a, pss + b
        k1 = kernel_kb()
        print(json.dumps({"instances": n, "start_all_ms": round((t_all - t0) * 1e3, 3),
                          "rss_kib": rss, "pss_kib": pss, "kernel_growth_kib": k1 - k0,
                          "host_kib_per_instance": round((pss + k1 - k0) / n, 1)},
                         separators=(",", ":")))
        status = 0
    finally:
        os.close(w)  # end of file for every child
        try:
            z.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(z.pid, signal.SIGKILL)
            z.wait()
    return status


if __name__ == "__main__":
    sys.exit(main())
