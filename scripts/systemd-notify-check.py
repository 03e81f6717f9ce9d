#!/usr/bin/env python3
"""Checks a server's systemd notify protocol (sd_notify(3)) without systemd.

Binds a stand-in NOTIFY_SOCKET (AF_UNIX datagram, in a temporary directory), starts the server with NOTIFY_SOCKET and
WATCHDOG_USEC=2000000, and expects, in order:
  READY=1 (within --ready-timeout), WATCHDOG=1 within 3 s after it,
  after SIGHUP: RELOADING=1 with a current CLOCK_MONOTONIC MONOTONIC_USEC, then READY=1,
  after SIGTERM: STOPPING=1, then exit status 0.
STATUS= and WATCHDOG= datagrams may come at any time. Exits 0 when everything matched, 1 with a message on the first
mismatch (the server is then killed), 2 on a usage error.

Usage: scripts/systemd-notify-check.py [--ready-timeout S] [--reload-timeout S] [--stop-timeout S] -- <server command...>
"""
import argparse
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WATCHDOG_USEC = 2_000_000
WATCHDOG_WAIT = 3.0
# Keys that may arrive between the state changes without being a mismatch.
BACKGROUND_KEYS = {"STATUS", "WATCHDOG", "MAINPID", "EXTEND_TIMEOUT_USEC"}


class Mismatch(Exception):
    pass


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def parse(datagram):
    """KEY=VALUE lines as an ordered dict; a line without '=' is a protocol error."""
    text = datagram.decode("utf-8", errors="replace")
    fields = {}
    for line in text.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise Mismatch(f"malformed notify datagram {text!r}: line {line!r} is not KEY=VALUE")
        fields[key] = value
    return text, fields


class Session:
    def __init__(self, command, socket_path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.listener.bind(socket_path)
        env = dict(os.environ, NOTIFY_SOCKET=socket_path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        env.pop("WATCHDOG_PID", None)  # ours would name the wrong process; systemd's would name the server
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(command, env=env)
        except OSError as error:
            self.listener.close()
            raise Mismatch(f"cannot start {command[0]!r}: {error}")

    def elapsed(self):
        return f"{time.monotonic() - self.started:.1f} s"

    def next_message(self, deadline, waiting_for):
        """The next datagram before `deadline` (monotonic), or None; a server exit while waiting is a mismatch."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.listener], [], [], min(remaining, 0.1))
            if ready:
                return parse(self.listener.recv(65536))
            code = self.process.poll()
            if code is not None:
                raise Mismatch(f"server exited with status {code} while waiting for {waiting_for}")

    def expect(self, what, timeout, matches, background=BACKGROUND_KEYS):
        """Reads datagrams until one `matches`; any other datagram that is not background traffic is a mismatch."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.next_message(deadline, what)
            if message is None:
                raise Mismatch(f"no {what} within {timeout:g} s")
            text, fields = message
            if matches(fields):
                print(f"ok: {what} at {self.elapsed()} ({text!r})")
                return fields
            if not set(fields) <= background:
                raise Mismatch(f"expected {what}, got {text!r}")

    def send_signal(self, number):
        if self.process.poll() is None:
            self.process.send_signal(number)

    def wait_exit(self, timeout):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Mismatch(f"server still running {timeout:g} s after STOPPING=1")

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.listener.close()


def is_ready(fields):
    return fields.get("READY") == "1"


def check(session, args):
    session.expect("READY=1", args.ready_timeout, is_ready)
    session.expect("WATCHDOG=1", WATCHDOG_WAIT, lambda f: f.get("WATCHDOG") == "1", background=BACKGROUND_KEYS - {"WATCHDOG"})

    sent_hup = monotonic_usec()
    session.send_signal(signal.SIGHUP)
    reloading = session.expect("RELOADING=1 after SIGHUP", args.reload_timeout, lambda f: f.get("RELOADING") == "1")
    stamp = reloading.get("MONOTONIC_USEC")
    if stamp is None or not stamp.isdigit():
        raise Mismatch(f"RELOADING=1 without an integer MONOTONIC_USEC (got {stamp!r})")
    # systemd compares it with its own CLOCK_MONOTONIC, so it must be the reload's start, not another clock.
    if not sent_hup - 1_000_000 <= int(stamp) <= monotonic_usec() + 1_000_000:
        raise Mismatch(f"MONOTONIC_USEC={stamp} is not CLOCK_MONOTONIC µs around the SIGHUP ({sent_hup})")
    session.expect("READY=1 after RELOADING=1", args.reload_timeout, is_ready)

    session.send_signal(signal.SIGTERM)
    session.expect("STOPPING=1 after SIGTERM", args.stop_timeout, lambda f: f.get("STOPPING") == "1")
    code = session.wait_exit(args.stop_timeout)
    if code != 0:
        raise Mismatch(f"server exited with status {code} after SIGTERM, expected 0")
    print(f"ok: exit status 0 at {session.elapsed()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     usage="%(prog)s [options] -- <server command...>")
    parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds to the first READY=1 (default 60)")
    parser.add_argument("--reload-timeout", type=float, default=60.0, help="seconds for each reload step (default 60)")
    parser.add_argument("--stop-timeout", type=float, default=30.0, help="seconds for each stop step (default 30)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no server command given after --")

    directory = tempfile.mkdtemp(prefix="notify-check-")
    session = None
    try:
        session = Session(command, os.path.join(directory, "notify.sock"))
        check(session, args)
    except Mismatch as error:
        print(f"systemd-notify-check: FAIL: {error}", file=sys.stderr)
        return 1
    finally:
        if session:
            session.close()
        shutil.rmtree(directory, ignore_errors=True)
    print("systemd-notify-check: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
