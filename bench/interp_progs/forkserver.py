"""forkserver.py: the host baselines of a python3 template, for bench/interp.sh.

  python3 forkserver.py serve SOCKET
      A zygote: listens on the Unix socket SOCKET; for each connection it
      forks a child that reads the code until the client shuts down its
      write side, runs it with exec() with its stdout (fd 1) on the
      connection, and exits (status 1 after a traceback on stderr). The
      zygote ignores SIGCHLD, so the kernel reaps the children. Clients:
      bench/interp_progs/fs_client.c.
  python3 forkserver.py hold N
      A zygote that forks N children, each blocked in sys.stdin.read() as
      `python3 -c 'import sys; sys.stdin.read()'` is (stdin: the caller's
      pipe); it prints each child's pid, one a line, then "ready", and
      reaps them all when they end (bench/interp_progs/fork_hold.py).
"""
import os
import sys


def serve(path):
    import signal
    import socket
    import traceback

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path + ".tmp")
    lsock.listen(128)
    os.rename(path + ".tmp", path)  # the socket appears when it listens
    while True:
        conn, _ = lsock.accept()
        if os.fork() == 0:
            lsock.close()
            status = 0
            try:
                chunks = []
                while True:
                    b = conn.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                os.dup2(conn.fileno(), 1)
                exec(b"".join(chunks).decode(), {"__name__": "__main__"})
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else 1
            except BaseException:
                traceback.print_exc()
                status = 1
            try:
                sys.stdout.flush()
            finally:
                os._exit(status)
        conn.close()


def hold(n):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            sys.stdin.read()
            os._exit(0)
        print(pid)
    print("ready", flush=True)
    for _ in range(n):
        os.wait()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "hold":
        hold(int(sys.argv[2]))
    else:
        sys.exit("usage: forkserver.py serve SOCKET | hold N")
