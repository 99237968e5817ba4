"""Endurance run: each Locust user holds one realtime session and plays a scripted multi-turn conversation.

    locust -f locustfiles/endurance.py                 # web UI, against the embedded mock
    locust -f locustfiles/endurance.py --headless -u 4 -r 4 --sessions-per-user 1

All options: ``locust -f locustfiles/endurance.py --help`` (group "s2s_users").
"""

from locust import events

from s2s_users.locust_ext.hooks import install_hooks
from s2s_users.locust_ext.users import OpenAIRealtimeUser

install_hooks(events)

__all__ = ["OpenAIRealtimeUser"]
