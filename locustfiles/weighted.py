"""Models as weighted Locust user classes: 3 users on gpt-realtime for each one on gpt-realtime-2.

    locust -f locustfiles/weighted.py --headless -u 8 -r 4 --turns 60

Locust's own ``weight`` (or ``fixed_count``), ``--class-picker`` and ``--config-users`` then decide how many users
play each model. The same split from the command line, with the default locustfile:
``--s2s-model gpt-realtime:3,gpt-realtime-2:1``.
"""

from locust import events

from s2s_users.locust_ext import users
from s2s_users.locust_ext.hooks import install_hooks

install_hooks(events)


class GptRealtime(users.OpenAIRealtimeUser):
    s2s_model = "gpt-realtime"
    weight = 3


class GptRealtime2(users.OpenAIRealtimeUser):
    s2s_model = "gpt-realtime-2"
    weight = 1
