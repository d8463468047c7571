"""The dashboard's PNG cache on its own: bounded, least recently used out first, and expiring."""

from __future__ import annotations

from textsift.monitor.charts import PngCache


def test_the_cache_keeps_only_the_most_recently_used_charts() -> None:
    cache, drawn = PngCache(size=2), []

    def draw(name: str) -> bytes:
        drawn.append(name)
        return name.encode()

    for key in ("a", "b", "a", "c", "a", "b"):  # c pushes out b, the least recently used
        cache.get(key, lambda key=key: draw(key))
    assert drawn == ["a", "b", "c", "b"]


def test_an_entry_older_than_the_ttl_is_drawn_again() -> None:
    clock = [100.0]
    cache = PngCache(ttl_s=30, clock=lambda: clock[0])
    assert cache.get("k", lambda: b"1") == (b"1", False)
    clock[0] += 29
    assert cache.get("k", lambda: b"2") == (b"1", True)
    clock[0] += 2
    assert cache.get("k", lambda: b"3") == (b"3", False)
