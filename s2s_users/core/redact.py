"""Secrets out of text we show: URLs with their credentials and key-like query parameters masked.

Keys belong in headers, but some providers take them in the query (Gemini's ``?key=``) and some URLs carry
``user:password@``. Every URL that reaches a log line, an error, a record, a report or InfluxDB goes through
``redact_url`` first.
"""

from __future__ import annotations

import urllib.parse

MASK = "***"

#: Query parameters whose values are credentials (compared lower-case, with ``-`` read as ``_``).
SECRET_QUERY_KEYS = frozenset(
    {"key", "api_key", "apikey", "token", "access_token", "auth", "authorization", "sig", "signature", "password"}
)


def redact_url(url: str) -> str:
    """``url`` with a password in its user info and the values of key-like query parameters masked."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return MASK  # unparseable: it may be anything, say nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    masked = [(k, MASK if k.lower().replace("-", "_") in SECRET_QUERY_KEYS else v) for k, v in query]
    new_query = urllib.parse.urlencode(masked, safe="*") if query else parts.query
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=new_query))
