"""Gemini Live end to end: the real tester (``--s2s-protocol gemini``) against the embedded mock's Gemini profile."""

from __future__ import annotations

from s2s_users.core.mock.profiles import Fault
from tests.integration.test_mock_faults import EXPECTED, FAULT_TURN

# Gemini has no error message: a server error is a close frame, so error_close is no server.error_event there.
EXPECTED_GEMINI = {**EXPECTED, Fault.ERROR_CLOSE: ("transport.closed_frame", "transport.closed_frame")}
__all__ = ["EXPECTED_GEMINI", "FAULT_TURN"]
