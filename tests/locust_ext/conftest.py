"""Tests that use Locust's own classes in this process (its parser, Environment, runner, stats).

Importing Locust monkey-patches the whole process with gevent (``monkey.patch_all()``), which fails once ``ssl``
is imported (RecursionError) and would change how every later test's sockets and threads behave. The real runs
(``tests/integration``) use Locust in subprocesses; here it is imported once, unpatched: these tests only use its
objects and greenlets, never a blocking call that would need the patch.
"""

from __future__ import annotations

import os

_SKIP = "LOCUST_SKIP_MONKEY_PATCH"
_before = os.environ.get(_SKIP)
os.environ[_SKIP] = "1"
try:
    import locust  # noqa: F401
finally:
    if _before is None:
        del os.environ[_SKIP]  # real locust processes started later must be patched as usual
    else:
        os.environ[_SKIP] = _before
