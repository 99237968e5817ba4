"""What a session's engine is told: turns, turn mode, pacing, timeouts, the silence floor, barge-in, rotation, the
early warning's threshold and the prices."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from s2s_users.core.engine.pacing import Pace
from s2s_users.core.engine.rotation import RotationPolicy
from s2s_users.core.metrics.cost import DEFAULT_PRICES, Prices


@dataclass(frozen=True, slots=True)
class EngineSettings:
    turns: int = 60
    """Fixed turns: the script's length. Until failure: the safety bound on turns (0: none)."""
    until_failure: bool = False
    """Loop the prompts until the session's first failure, the provider's cap or a safety bound
    (``turns``, ``max_session_s``); reaching a bound ends the session cleanly, censored (``bounded``)."""
    max_session_s: float | None = None
    """Until failure: the safety bound on the session's wall time (engine clock, from connect)."""
    turn_mode: str = "manual"
    pace: Pace = field(default_factory=lambda: Pace(1.0))
    think_time_s: float = 1.0
    turn_timeout_s: float = 30.0
    silence_floor_dbfs: float = -50.0
    output_rate: int = 24_000
    """Sample rate of the assistant's PCM16 audio (the provider's): bytes to seconds."""
    session_cap_s: float | None = None
    """The provider's known session cap (Azure: about 30 minutes): a connection that ends then, or an error at
    that time, is the expected end (``session.expired``)."""
    barge_in_after_s: float | None = None
    """Speak over the answer this long after its first audio (the next prompt starts); None: never."""
    barge_in_share: float = 1.0
    """The share of turns that barge in (spread evenly over the session: turn i when floor(i·share) steps)."""

    rotation: RotationPolicy = field(default_factory=RotationPolicy)
    """When to move the conversation to a fresh provider session (``--rotate-after``); never by default."""
    summary_chars: int = 2000
    """The budget of the summary re-injected into a fresh session (``--summary-chars``)."""
    reconnect_on_cap: bool = False
    """A conversation that hits the provider's session cap goes on over a fresh session (``--reconnect-on-cap``)."""
    warn_at_audio_s: float | None = None
    """Raise the early warning once the current provider session holds this much assistant audio (None: never)."""
    prices: Prices | None = field(default_factory=lambda: DEFAULT_PRICES["gpt-realtime"])
    """This session's model's prices, for the cost of each response (None: the price table has none; the cost is
    then not estimated, never guessed)."""

    def barges_in(self, turn: int) -> bool:
        if self.barge_in_after_s is None or (self.turns and turn >= self.turns):
            return False  # the last turn has no next prompt to speak over it with
        return math.floor(turn * self.barge_in_share) > math.floor((turn - 1) * self.barge_in_share)

    def last_turn(self, turn: int, session_s: float) -> bool:
        """True when the session ends after ``turn`` (played ``session_s`` seconds in) without a failure."""
        if not self.until_failure:
            return turn >= self.turns
        return self.bound_reached(turn, session_s)

    def ends_after_failure(self, turn: int, first_failure_turn: int | None) -> bool:
        """Until failure: the session ends one turn after its first failure (a failure that leaves the socket up;
        the next turn shows what the service does after it, as the seed's drop on the next message)."""
        return self.until_failure and first_failure_turn is not None and turn > first_failure_turn

    def reconnects_at_cap(self, turn: int | None) -> bool:
        """The provider's cap cut ``turn`` (None: before any): the conversation goes on over a fresh session."""
        return self.reconnect_on_cap and turn is not None and not self.last_turn(turn, 0.0)

    def bound_reached(self, turn: int, session_s: float) -> bool:
        """Until failure: a safety bound is reached (the session ends there, censored)."""
        if not self.until_failure:
            return False
        by_turns = self.turns > 0 and turn >= self.turns
        by_time = self.max_session_s is not None and session_s >= self.max_session_s
        return by_turns or by_time
