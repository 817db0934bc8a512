"""requests reads the process environment on every call: `merge_environment_settings` scans all of `os.environ`
twice for proxy variables (`getproxies_environment`, then again for NO_PROXY) and looks up REQUESTS_CA_BUNDLE. On a
login that was ≈ 8 % of the bridge's instructions (two PSC calls; docs/performance.md). A server's environment
does not change while it serves, so a pooled session keeps the merged settings per origin and per-call arguments:
the same answer as requests', computed once (HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are still honoured,
as read when the session first called that origin).
"""
from __future__ import annotations

from urllib.parse import urlsplit

import requests

_CACHE_SIZE = 64   # origins x argument combinations of one session: a handful in practice


def environment_once(session: requests.Session) -> requests.Session:
    """Make `session` remember requests' environment merge per (origin, arguments, session settings)."""
    merge, cache = session.merge_environment_settings, {}

    def merged(url, proxies, stream, verify, cert):
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, tuple(sorted((proxies or {}).items())), proxies is None, stream,
               verify, cert if not isinstance(cert, list) else tuple(cert), session.trust_env,
               tuple(sorted(session.proxies.items())), session.stream, session.verify, session.cert)
        try:
            settings = cache[key]
        except (KeyError, TypeError):   # TypeError: an unhashable argument, never cached
            settings = merge(url, proxies, stream, verify, cert)
            if len(cache) < _CACHE_SIZE:
                try:
                    cache[key] = settings
                except TypeError:
                    pass
        # callers may change what they get (proxies on a redirect): each call has its own copy
        return {**settings, "proxies": dict(settings["proxies"])}

    session.merge_environment_settings = merged
    return session
