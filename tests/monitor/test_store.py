"""The store on SQLite and PostgreSQL alike: schema versions, idempotent batches, rollups that equal the events,
and concurrent writers that never store an event twice."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
from sqlalchemy import event, inspect, select, update

from tests.monitor.helpers import (
    add,
    assert_rollups_match_events,
    binary,
    distinct_keys,
    scored,
    stored_rollups,
    volume,
)
from textsift.errors import TextsiftError
from textsift.monitor import schema
from textsift.monitor.queries import series
from textsift.monitor.store import ALL, WIDTHS, Scored, Store

T0 = 1_800_057_600  # midnight UTC in epoch seconds (divisible by 86400), so every width's buckets start here


def versions(store: Store) -> list[int]:
    with store.read() as conn:
        return list(conn.execute(select(schema.schema_version.c.version)).scalars())


def test_a_new_store_creates_the_tables_and_records_the_version(store_url: str) -> None:
    store = Store(store_url)
    with store.read() as conn:
        tables = set(inspect(conn).get_table_names())
    assert {"events", "rollups", "rules", "alerts", "deliveries", "schema_version"} <= tables
    assert versions(store) == [schema.VERSION]


def test_reopening_a_store_keeps_its_data_and_runs_no_migration(store_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = Store(store_url)
    add(first, [binary(i, T0 + i, negative=False) for i in range(3)])
    first.close()

    def migration_run_again(conn: object) -> None:
        raise AssertionError("a migration ran on a store already at the current version")

    monkeypatch.setattr(schema, "MIGRATIONS", [migration_run_again] * schema.VERSION)
    again = Store(store_url)
    assert again.count() == 3
    assert versions(again) == [schema.VERSION]


def open_store(url: str, barrier: Any) -> bool:
    barrier.wait(timeout=60)
    Store(url).close()
    return True


def test_processes_opening_a_new_store_at_once_all_succeed(store_url: str) -> None:
    # As when several `monitor ingest` or `serve` processes are started together on an empty database; a few
    # rounds, each on an emptied database, since the processes need not meet in every one.
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(4) as pool:
        barrier = manager.Barrier(4)
        for _ in range(4):
            assert pool.starmap_async(open_store, [(store_url, barrier)] * 4).get(timeout=120) == [True] * 4
            store = Store(store_url)
            assert versions(store) == [schema.VERSION]
            with store.write() as conn:
                schema.metadata.drop_all(conn)
            store.close()


def test_a_store_written_by_a_newer_textsift_is_refused(store_url: str) -> None:
    store = Store(store_url)
    with store.write() as conn:
        conn.execute(update(schema.schema_version).values(version=schema.VERSION + 1))
    store.close()
    with pytest.raises(TextsiftError, match=f"newer textsift \\(schema {schema.VERSION + 1}\\)"):
        Store(store_url)


def test_an_empty_database_is_not_a_store_without_create(store_url: str) -> None:
    with pytest.raises(TextsiftError, match="no monitor store there yet"):
        Store(store_url, create=False)


def test_the_same_batch_added_twice_is_stored_once(store_url: str) -> None:
    store = Store(store_url)
    batch = [binary(i, T0 + i, negative=i % 2 == 0) for i in range(10)]
    assert add(store, batch) == (10, 0)
    assert add(store, batch) == (0, 10)
    assert store.count() == 10
    assert volume(store) == 10


def test_an_event_repeated_inside_one_batch_is_stored_and_counted_once(store_url: str) -> None:
    store = Store(store_url)
    assert add(store, [binary("a", T0, True), binary("b", T0, False), binary("a", T0, True)]) == (2, 1)
    assert stored_rollups(store)[(60, T0, "web", "negative")][0] == 1


def test_the_same_id_from_two_sources_is_two_events(store_url: str) -> None:
    store = Store(store_url)
    assert add(store, [binary("1", T0, True, source="web"), binary("1", T0, True, source="mail")]) == (2, 0)


def test_a_batch_is_stored_in_one_transaction(store_url: str) -> None:
    store = Store(store_url)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    add(store, [binary(i, T0 + i * 30, negative=i % 3 == 0) for i in range(50)])
    assert len(commits) == 1


def test_a_batch_that_fails_midway_stores_none_of_its_events(store_url: str) -> None:
    from sqlalchemy.exc import IntegrityError

    store = Store(store_url)
    batch = [binary(i, T0 + i, negative=True) for i in range(10)]
    batch[7].text_hash = None  # type: ignore[assignment]  # violates NOT NULL after seven good rows
    with pytest.raises(IntegrityError):
        add(store, batch)
    assert store.count() == 0
    assert stored_rollups(store) == {}


def test_rollups_count_each_window_width_and_label(store_url: str) -> None:
    store = Store(store_url)
    # Either side of the minute, hour and day boundaries (fractions exact in binary).
    times = [0, 59.5, 60, 3599.75, 3600, 86399.5, 86400]
    add(store, [binary(i, T0 + t, negative=i < 3) for i, t in enumerate(times)])
    rollups = stored_rollups(store)
    assert rollups[(60, T0, "web", ALL)] == (2, 0.0, 0.0)
    assert rollups[(60, T0, "web", "negative")] == (2, pytest.approx(1.8), pytest.approx(1.62))
    assert rollups[(60, T0 + 60, "web", "negative")][0] == 1
    assert rollups[(3600, T0, "web", ALL)][0] == 4
    assert rollups[(3600, T0, "web", "positive")] == (1, pytest.approx(0.3 + 0.8), pytest.approx(0.01 * 3 + 0.64))
    assert rollups[(86400, T0, "web", ALL)][0] == 6
    assert rollups[(86400, T0 + 86400, "web", ALL)][0] == 1
    assert_rollups_match_events(store)


def test_the_volume_of_every_width_is_the_number_of_events(store_url: str) -> None:
    store = Store(store_url)
    add(store, [binary(i, T0 + i * 397.25, negative=i % 4 == 0, source=f"s{i % 3}") for i in range(300)])
    assert [volume(store, width) for width in WIDTHS] == [300, 300, 300]
    assert_rollups_match_events(store)


def test_a_multi_label_event_counts_once_in_the_volume_and_once_per_label(store_url: str) -> None:
    store = Store(store_url)
    scores = {"games": 0.9, "net": 0.7, "admin": 0.1}
    add(store, [scored(1, T0, ["games", "net"], scores), scored(2, T0 + 1, ["net"], scores),
                scored(3, T0 + 2, [], scores)])
    rollups = stored_rollups(store)
    assert {label: rollups[(60, T0, "web", label)][0] for label in ("*", "games", "net", "admin")} == {
        "*": 3, "games": 1, "net": 2, "admin": 0}
    assert rollups[(60, T0, "web", "net")][1] == pytest.approx(2.1)
    assert_rollups_match_events(store)


def test_a_regression_event_adds_its_value_to_the_target_with_no_hits(store_url: str) -> None:
    store = Store(store_url)
    add(store, [scored(i, T0 + i, [], {"valence": v}) for i, v in enumerate([1.5, -0.5, 2.0])])
    assert stored_rollups(store)[(60, T0, "web", "valence")] == (0, pytest.approx(3.0), pytest.approx(6.5))
    assert stored_rollups(store)[(60, T0, "web", ALL)][0] == 3
    assert_rollups_match_events(store)


def test_known_finds_the_stored_keys_only(store_url: str) -> None:
    store = Store(store_url)
    add(store, [binary("1", T0, True), binary("2", T0, False)])
    assert store.known([("web", "1"), ("web", "2"), ("web", "3"), ("mail", "1")]) == {("web", "1"), ("web", "2")}


def test_known_answers_for_more_keys_than_one_query_asks_about(store_url: str) -> None:
    store = Store(store_url)
    add(store, [binary(i, T0 + i, negative=False) for i in range(0, 1300, 2)])
    found = store.known([("web", str(i)) for i in range(1300)])
    assert found == {("web", str(i)) for i in range(0, 1300, 2)}


def test_the_watermark_is_the_latest_event_time_stored(store_url: str) -> None:
    store = Store(store_url)
    assert store.watermark() is None
    add(store, [binary(1, T0 + 500.5, True), binary(2, T0 + 20, True)])
    add(store, [binary(3, T0 + 100, False)])
    assert store.watermark() == T0 + 500.5


def test_series_gives_each_windows_volume_shares_and_mean_scores(store_url: str) -> None:
    store = Store(store_url)
    add(store, [binary(1, T0 + 1, True), binary(2, T0 + 2, False), binary(3, T0 + 3, False), binary(4, T0 + 4, False),
                binary(5, T0 + 125, True), binary(6, T0 + 130, True)])
    s = series(store, T0, T0 + 180, width=60)
    assert (s.width, s.starts, s.volume) == (60, [T0, T0 + 120], [4, 2])
    assert s.shares == {"negative": [0.25, 1.0], "positive": [0.75, 0.0]}
    assert s.means["negative"] == pytest.approx([(0.9 + 3 * 0.2) / 4, 0.9])
    assert s.means["positive"] == pytest.approx([(0.1 + 3 * 0.8) / 4, 0.1])


def test_series_of_one_source_leaves_the_others_out(store_url: str) -> None:
    store = Store(store_url)
    add(store, [binary(1, T0, True, source="web"), binary(2, T0, False, source="mail"),
                binary(3, T0, False, source="mail")])
    s = series(store, T0, T0 + 60, source="mail", width=60)
    assert (s.volume, s.shares["negative"]) == ([2], [0.0])


# Two writers, each its own store: rounds of the same events, one in order and one reversed (the order in which
# two producers' retries of one stream might arrive).
ROUNDS, PER_ROUND = 12, 150


def round_batch(k: int, rnd: int) -> list[Scored]:
    batch = [binary(f"r{rnd}-{i}", T0 + rnd * 60 + i * 0.25, negative=i % 5 == 0) for i in range(PER_ROUND)]
    return batch[::-1] if k else batch


def write_rounds(url: str, k: int, barrier: Any) -> int:
    """Add the rounds' batches (writer 1's reversed), in step with the other writer; returns how many were stored."""
    store, stored = Store(url), 0
    try:
        for rnd in range(ROUNDS):
            try:
                barrier.wait(timeout=60)  # both writers in the same round at once
            except threading.BrokenBarrierError:
                break  # the other writer failed: its error is the one to report
            stored += store.add(round_batch(k, rnd), model="m", model_version="v").stored
    except Exception:
        barrier.abort()  # the other writer stops waiting at once
        raise
    finally:
        store.close()
    return stored


def assert_each_event_stored_once(url: str, stored: list[int]) -> None:
    store = Store(url)
    assert sum(stored) == ROUNDS * PER_ROUND
    assert store.count() == distinct_keys(store) == ROUNDS * PER_ROUND
    assert volume(store) == ROUNDS * PER_ROUND
    assert_rollups_match_events(store)


def test_two_writer_threads_store_each_event_once(store_url: str) -> None:
    Store(store_url).close()
    barrier, stored, errors = threading.Barrier(2), [0, 0], []

    def writer(k: int) -> None:
        try:
            stored[k] = write_rounds(store_url, k, barrier)
        except Exception as e:  # reported below: an exception in a thread does not fail the test by itself
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert_each_event_stored_once(store_url, stored)


def test_two_writer_processes_store_each_event_once(store_url: str) -> None:
    Store(store_url).close()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        barrier = manager.Barrier(2)
        stored = pool.starmap_async(write_rounds, [(store_url, k, barrier) for k in (0, 1)]).get(timeout=120)
    assert_each_event_stored_once(store_url, stored)
