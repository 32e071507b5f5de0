"""The dashboard's pool of PostGIS stores, without a server: which stores it keeps, hands out and closes."""

from __future__ import annotations

from typing import Any

from sitewatch.web.store_pool import StorePool


class FakeStore:
    """A store whose session answers until ``ended``; ``closed`` once closed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ended = False
        self.closed = False
        self.asked = 0

    def still_usable(self, *, ask_server: bool = True) -> bool:
        self.asked += ask_server
        return not self.closed and not (ask_server and self.ended)

    def close(self) -> None:
        self.closed = True


def _opener(url: str, made: list[FakeStore]) -> Any:
    def open_store() -> FakeStore:
        made.append(FakeStore(url))
        return made[-1]

    return open_store


def test_one_store_serves_request_after_request() -> None:
    pool, made = StorePool(), []
    for _ in range(5):
        with pool.store("pg://a", _opener("pg://a", made)) as store:
            assert store is made[0]
    assert len(made) == 1 and pool.idle() == 1 and made[0].asked == 4


def test_a_store_whose_session_ended_is_closed_and_replaced() -> None:
    pool, made = StorePool(), []
    with pool.store("pg://a", _opener("pg://a", made)):
        pass
    made[0].ended = True  # a restart of the server, pg_terminate_backend
    with pool.store("pg://a", _opener("pg://a", made)) as store:
        assert store is made[1]
    assert made[0].closed and pool.idle() == 1


def test_the_stores_of_another_url_are_closed_when_the_setting_changes() -> None:
    pool, made = StorePool(), []
    with pool.store("pg://a", _opener("pg://a", made)):
        pass
    with pool.store("pg://b", _opener("pg://b", made)) as store:
        assert store.url == "pg://b"
    assert made[0].closed and pool.idle() == 1


def test_a_burst_of_requests_keeps_at_most_max_idle_stores() -> None:
    pool, made = StorePool(max_idle=2), []
    held = [pool.store("pg://a", _opener("pg://a", made)) for _ in range(5)]
    for cm in held:
        cm.__enter__()
    for cm in held:
        cm.__exit__(None, None, None)
    assert len(made) == 5 and pool.idle() == 2 and sum(s.closed for s in made) == 3
    pool.close()
    assert pool.idle() == 0 and all(s.closed for s in made)


def test_a_store_broken_in_a_request_is_not_kept() -> None:
    pool, made = StorePool(), []
    try:
        with pool.store("pg://a", _opener("pg://a", made)) as store:
            store.closed = True  # the connection lost mid-request (psycopg closes it)
            raise OSError("lost")
    except OSError:
        pass
    assert pool.idle() == 0
