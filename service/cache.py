"""One value fetched at most once per TTL, thread-safe (cachetools), with a way to force a re-read."""
import threading
import time

from cachetools import TTLCache, cached


def cached_value(fetch, ttl_s):
    """fetch() memoised for ttl_s seconds; call .cache_clear() on the result to re-read next time."""
    return cached(TTLCache(maxsize=1, ttl=ttl_s, timer=time.monotonic), key=lambda: "value",
                  lock=threading.Lock())(fetch)
