"""What the turn engine needs from a provider adapter (sans-I/O on both sides)."""

from __future__ import annotations

from typing import Protocol

from s2s_users import events as ev


class RealtimeProtocol(Protocol):
    """A provider adapter: intents in → messages out; messages in → neutral events out."""

    provider: str
    input_rate: int
    output_rate: int
    legacy_events: int
    unknown_events: dict[str, int]
    config_event_id: str | None

    def configure(self) -> None: ...

    def append_audio(self, audio_b64: str) -> None: ...

    def commit(self) -> None: ...

    def create_response(self) -> None: ...

    def messages_to_send(self) -> list[str]: ...

    def receive_message(self, data: str | bytes) -> None: ...

    def events_received(self) -> list[ev.Event]: ...
