"""Exceptions raised by s2s_users.

The tree::

    S2SError                      root of everything we raise on purpose
    ├── ConfigError (ValueError)  bad option, URL, key, model, audio file or scenario: a one-line message
    │   └── AudioFixtureError     a prompt file or folder that cannot be used
    └── ProtocolViolation         the server sent something the protocol does not allow

Failures of the service under test are *not* exceptions: they are ``failures.FailureClass`` codes in records.
Messages are one line, say what is wrong and how to fix it.
"""

from __future__ import annotations


class S2SError(Exception):
    """Root of the exceptions that s2s_users raises on purpose."""


class ConfigError(S2SError, ValueError):
    """A user-supplied setting cannot be used; the message says what to change."""


class AudioFixtureError(ConfigError):
    """A prompt audio file or folder cannot be read or is unusable."""


class ProtocolViolation(S2SError):
    """The server broke the protocol (malformed JSON, a message without a type...)."""
