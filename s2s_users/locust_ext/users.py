"""Locust users: each holds one realtime session at a time and plays the scripted conversation."""

from __future__ import annotations

from locust import User, constant, task
from locust.exception import StopUser

import time

import gevent

from s2s_users.core.connections import connection_for, next_connection
from s2s_users.core.engine.conversation import Conversation
from s2s_users.core.engine.rotation import Handover
from s2s_users.core.failures import FailureClass
from s2s_users.core.metrics.records import SessionLabels, SessionRecord, TurnRecord
from s2s_users.core.protocols.base import RealtimeProtocol
from s2s_users.core.protocols.openai_realtime import ConnectRequest
from s2s_users.io.evidence import SessionEvidence
from s2s_users.io.session import run_session
from s2s_users.locust_ext.hooks import user_side_of
from s2s_users.locust_ext.stats import fire_turn

# Handshake answers that will not change by retrying: stop the user instead of hammering the endpoint.
_PERMANENT_REJECTIONS = frozenset({400, 401, 403, 404})
# Gemini refuses a session with a close frame before setupComplete, not an HTTP status: 1007 for a bad key,
# 1008 for an unknown model. Those will not change by retrying either.
_PERMANENT_CLOSES = frozenset({1007, 1008})
_RETRY_BACKOFF_S = 5.0


class OpenAIRealtimeUser(User):
    """One realtime session at a time, back to back, for the whole run: OpenAI Realtime, Azure OpenAI realtime or
    Voice Live, or Gemini Live, as ``--s2s-protocol`` (or the URL) says.

    Users take their model from ``--s2s-model`` (by weight). A subclass may name its own with ``s2s_model``, and
    then Locust's ``weight`` / ``fixed_count`` and class picker decide how many users play it
    (``locustfiles/weighted.py``).
    """

    wait_time = constant(0)
    s2s_model: str | None = None

    def on_start(self) -> None:
        self.rt = user_side_of(self.environment)
        assignment = self.rt.next_assignment()
        self.model = self.s2s_model or assignment.model
        self.turn_mode, self.arm = assignment.turn_mode, assignment.arm
        self.sessions_played = 0
        self.rt.user_started()
        gevent.sleep(self.rt.start_delay())  # users spawned together start one by one, at the spawn rate

    @task
    def play_session(self) -> None:
        rt = self.rt
        settings = rt.settings
        assert settings is not None
        url = rt.target_url()
        request, adapter = connection_for(settings, self.model, self.turn_mode, url)
        labels = SessionLabels(
            run_id=settings.run_id,
            model=self.model,
            provider=settings.protocol,
            voice=settings.voice,
            turn_mode=self.turn_mode,
            scenario=settings.scenario,
            worker=rt.worker(),
            arm=self.arm,
        )
        wall_offset = time.time() - time.monotonic()
        script = rt.scripts[self.turn_mode]
        assert rt.evidence is not None
        evidence = SessionEvidence(
            rt.evidence,
            settings.record_audio,
            script,
            adapter.input_rate,
            adapter.output_rate,
            labels.worker,
            session_id=lambda: conversation.session_id,
            wall_offset=wall_offset,
        )
        conversation = Conversation(
            script,
            settings.engine_settings(
                adapter.output_rate, self.turn_mode, self.model, self.arm, rt.learned_capacity.get(self.model)
            ),
            labels,
            now=time.monotonic(),
            wall_offset=wall_offset,
            counts=adapter.counts,
            pacing=rt.pacing,
            tape=evidence.tape,
        )
        events = self.environment.events

        key = rt.session_started(conversation)

        def on_turn(turn: TurnRecord) -> None:
            fire_turn(events, self.model, turn)
            rt.turn_finished(labels, key, conversation.session_id, turn)

        def on_session(record: SessionRecord) -> None:
            # Sessions are not Locust requests (their numbers are the Sessions tab's, the report's and InfluxDB's).
            rt.session_finished(key, record)

        def reconnect(previous: RealtimeProtocol, why: Handover) -> tuple[ConnectRequest, RealtimeProtocol]:
            return next_connection(settings, self.model, self.turn_mode, url, previous, why)

        record = run_session(
            request,
            adapter,
            conversation,
            on_turn,
            on_session,
            transport=rt.transport,
            reconnect=reconnect,
            evidence=evidence,
            pump=rt.pump,
        )
        self.sessions_played += 1
        refused = not record.session_id and record.close_frame_received and record.close_code in _PERMANENT_CLOSES
        if record.end_class == FailureClass.CONNECT_REJECTED or refused:
            rt.log_rejection_once(record.failure_detail or "connection rejected")
            if record.http_status in _PERMANENT_REJECTIONS or refused:
                self._done()
            gevent.sleep(_RETRY_BACKOFF_S)
        if settings.sessions_per_user and self.sessions_played >= settings.sessions_per_user:
            self._done()

    def _done(self) -> None:
        self.rt.user_finished()
        raise StopUser()
