#!/usr/bin/env python3
"""A stand-in server speaking the systemd notify protocol, for proving scripts/systemd-notify-check.py.

By default it behaves as mscgrec-server should: READY=1 after a short "load", WATCHDOG=1 every WATCHDOG_USEC/2,
RELOADING=1 + MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM. Each --skip-*/--exit-code flag
breaks one rule, so the check can be shown to fail a wrong peer.
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time


def notifier():
    """A send function for NOTIFY_SOCKET (path or @abstract), or one that does nothing when it is unset."""
    name = os.environ.get("NOTIFY_SOCKET", "")
    if not name:
        return lambda message: None
    address = "\0" + name[1:] if name.startswith("@") else name
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    return lambda message: sock.sendto(message.encode(), address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--startup-delay", type=float, default=0.3, help="seconds before READY=1")
    parser.add_argument("--skip-ready", action="store_true", help="never send the first READY=1")
    parser.add_argument("--skip-watchdog", action="store_true", help="never send WATCHDOG=1")
    parser.add_argument("--skip-monotonic", action="store_true", help="RELOADING=1 without MONOTONIC_USEC")
    parser.add_argument("--skip-reload-ready", action="store_true", help="no READY=1 after a reload")
    parser.add_argument("--skip-stopping", action="store_true", help="exit on SIGTERM without STOPPING=1")
    parser.add_argument("--exit-code", type=int, default=0, help="status to exit with after SIGTERM")
    args = parser.parse_args()

    send = notifier()
    requested = {"reload": False, "stop": False}
    # Handlers only set flags, which the main loop polls: an Event.set() from a handler can deadlock against a wait.
    signal.signal(signal.SIGHUP, lambda *_: requested.update(reload=True))
    signal.signal(signal.SIGTERM, lambda *_: requested.update(stop=True))

    interval = int(os.environ.get("WATCHDOG_USEC", "0")) / 1_000_000
    if interval > 0 and not args.skip_watchdog:
        def ping():
            while not requested["stop"]:
                time.sleep(interval / 2)
                send("WATCHDOG=1")
        threading.Thread(target=ping, daemon=True).start()

    time.sleep(args.startup_delay)
    if not args.skip_ready:
        send("READY=1")
    while not requested["stop"]:
        time.sleep(0.05)
        if requested["reload"]:
            requested["reload"] = False
            micros = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            send("RELOADING=1" if args.skip_monotonic else f"RELOADING=1\nMONOTONIC_USEC={micros}")
            time.sleep(0.2)  # the "reload"
            if not args.skip_reload_ready:
                send("READY=1")
    if not args.skip_stopping:
        send("STOPPING=1")
    time.sleep(0.1)  # the "drain"
    return args.exit_code


if __name__ == "__main__":
    sys.exit(main())
