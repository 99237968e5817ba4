"""What the I/O loop needs from a provider adapter (sans-I/O on both sides)."""

from __future__ import annotations

from typing import Protocol

from s2s_users.core import events as ev
from s2s_users.core.intents import Intent


class RealtimeProtocol(Protocol):
    """A provider adapter: the engine's intents in → messages out; messages in → neutral events out."""

    provider: str
    input_rate: int
    output_rate: int
    counts: ev.ProtocolCounts

    def apply(self, intent: Intent) -> None: ...

    def messages_to_send(self) -> list[str]: ...

    def receive_message(self, data: str | bytes) -> None: ...

    def events_received(self) -> list[ev.Event]: ...
