#!/usr/bin/env python3
"""Proves scripts/systemd-notify-check.py passes a correct peer and fails each kind of wrong one (the fake server
with one rule broken). Run: python3 scripts/testdata/test_systemd_notify_check.py"""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "systemd-notify-check.py")
FAKE = os.path.join(HERE, "fake-notify-server.py")


def run_check(*fake_flags, check_flags=()):
    command = [sys.executable, CHECK, *check_flags, "--", sys.executable, FAKE, *fake_flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


class SystemdNotifyCheckTests(unittest.TestCase):
    def assert_fails(self, result, message):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"systemd-notify-check: FAIL: {message}", result.stderr)

    def test_correct_peer_passes(self):
        result = run_check()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue(result.stdout.endswith("systemd-notify-check: PASS\n"), result.stdout)

    def test_missing_ready_fails(self):
        self.assert_fails(run_check("--skip-ready", check_flags=["--ready-timeout", "2"]), "no READY=1 within 2 s")

    def test_missing_watchdog_fails(self):
        self.assert_fails(run_check("--skip-watchdog"), "no WATCHDOG=1 within 3 s")

    def test_reloading_without_monotonic_usec_fails(self):
        self.assert_fails(run_check("--skip-monotonic"), "RELOADING=1 without an integer MONOTONIC_USEC (got None)")

    def test_missing_ready_after_reload_fails(self):
        self.assert_fails(run_check("--skip-reload-ready", check_flags=["--reload-timeout", "2"]),
                          "no READY=1 after RELOADING=1 within 2 s")

    def test_missing_stopping_fails(self):
        self.assert_fails(run_check("--skip-stopping"),
                          "server exited with status 0 while waiting for STOPPING=1 after SIGTERM")

    def test_nonzero_exit_fails(self):
        self.assert_fails(run_check("--exit-code", "3"), "server exited with status 3 after SIGTERM, expected 0")

    def test_missing_command_is_a_usage_error(self):
        result = subprocess.run([sys.executable, CHECK, "--"], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("no server command given", result.stderr)


if __name__ == "__main__":
    unittest.main()
