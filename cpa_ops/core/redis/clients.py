"""The services' Redis: a client (or pool) for any REDIS_MODE, and the liveness boolean.

Every client speaks RESP2 unless REDIS_URL asks for ``protocol=3``, and the probe's handshake
(cpa_ops.core.redis.handshake: a refused CLIENT SETNAME costs only the name), sets explicit
timeouts, retries only connection errors and timeouts (twice, with a short capped backoff), and
lets a caller that finds every connection in use wait a bounded time for one instead of failing
at once.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import TYPE_CHECKING, Any

from cpa_ops.core.addresses import parse_host_port
from cpa_ops.core.redis.facts import parse_info_fields, text
from cpa_ops.core.redis.handshake import handshake_class, use_cluster_handshake, use_handshake

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster

    from cpa_ops.core.settings import Settings


def service_connection_options(
    socket_timeout: float, connect_timeout: float, client_name: str | None
) -> dict[str, Any]:
    """What every services' client (standalone, sentinel, cluster) sets on its connections:
    explicit timeouts; connection errors and timeouts retried twice with a short capped backoff
    (Retry's default errors: nothing that cannot succeed, such as a wrong password); a health
    check of a connection idle for 30 s; RESP2 (REDIS_URL's ``protocol`` wins).

    RESP2 because every Redis (5 and older, proxies without HELLO) speaks it, and redis-py's
    replies have the same Python shapes as under its RESP3 default (legacy responses). A client
    built for RESP3 cannot fall back: its reply callbacks expect RESP3 and break on RESP2 replies
    (ZRANGE ... WITHSCORES raised ValueError after the handshake's fallback)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return {
        "protocol": 2,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(ExponentialBackoff(cap=0.25, base=0.02), 2),
        "health_check_interval": 30,
        "client_name": client_name,
    }


async def create_redis_pool(
    settings: Settings,
    *,
    acquire_timeout: float = 5.0,
    socket_timeout: float = 5.0,
    connect_timeout: float = 2.0,
    client_name: str | None = None,
) -> BlockingConnectionPool | RedisCluster:
    """A pool of at most ``settings.redis_max_connections`` connections to REDIS_URL.

    A caller that finds every connection in use waits up to ``acquire_timeout`` seconds for one
    to be released (then ConnectionError), instead of failing at once.

    REDIS_MODE=sentinel: the same pool, to the master the sentinels name. REDIS_MODE=cluster: a
    ``RedisCluster`` client with the same limit per node, timeouts and bounded wait. Prefer
    :func:`create_redis_client`, which gives a client for every mode that owns its pool.
    """
    options = service_connection_options(socket_timeout, connect_timeout, client_name)
    if settings.redis_mode == "cluster":
        return _cluster_client(settings, acquire_timeout, options)
    if settings.redis_mode == "sentinel":
        return _sentinel_pool(settings, acquire_timeout, options)
    from redis.asyncio import BlockingConnectionPool

    pool = BlockingConnectionPool.from_url(
        settings.redis_target.url,
        max_connections=settings.redis_max_connections,
        timeout=acquire_timeout,
        **options,
    )
    return use_handshake(pool)


async def create_redis_client(
    settings: Settings,
    *,
    acquire_timeout: float = 5.0,
    socket_timeout: float = 5.0,
    connect_timeout: float = 2.0,
    client_name: str | None = None,
) -> Redis | RedisCluster:
    """The service's Redis client for any REDIS_MODE, owning its pool: ``await client.aclose()``
    closes every connection it opened (standalone, sentinel and cluster alike).

    Limits, timeouts and the bounded wait for a free connection are those of
    :func:`create_redis_pool`.
    """
    from redis.asyncio import Redis, RedisCluster

    pool = await create_redis_pool(
        settings,
        acquire_timeout=acquire_timeout,
        socket_timeout=socket_timeout,
        connect_timeout=connect_timeout,
        client_name=client_name,
    )
    if isinstance(pool, RedisCluster):
        return pool
    # from_pool hands the pool to the client: aclose() disconnects it (Redis(connection_pool=)
    # would leave every connection of the pool open)
    return Redis.from_pool(pool)


def _cluster_client(
    settings: Settings, acquire_timeout: float, options: dict[str, Any]
) -> RedisCluster:
    """A cluster client for REDIS_URL's seeds: at most REDIS_MAX_CONNECTIONS command connections
    per node (redis-py keeps one more per seed, the one it discovered the topology with), and a
    caller finding every connection in use waits up to ``acquire_timeout`` (redis-py's cluster
    client would fail at once)."""
    from redis.asyncio import RedisCluster
    from redis.asyncio.cluster import ClusterNode
    from redis.exceptions import ConnectionError as RedisConnectionError

    target = settings.redis_target
    url_options = target.connection_options()
    url_options.pop("db", None)  # a cluster has only db 0
    nodes = [ClusterNode(*parse_host_port(address)) for address in target.addresses]
    limit = settings.redis_max_connections

    class WaitingRedisCluster(RedisCluster):
        """At most ``limit`` commands in flight (so at most that many connections per node);
        one more waits for a free slot, up to ``acquire_timeout``."""

        _in_flight = asyncio.Semaphore(limit)

        async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
            if self._initialize:
                # the topology first, once, under redis-py's lock: commands that race the
                # first discovery break each other's connections (AttributeError on writelines)
                await self.initialize()
            try:
                async with asyncio.timeout(acquire_timeout):
                    await self._in_flight.acquire()
            except TimeoutError:
                raise RedisConnectionError("No connection available.") from None
            try:
                return await super().execute_command(*args, **kwargs)
            finally:
                self._in_flight.release()

    client = WaitingRedisCluster(
        startup_nodes=nodes,
        max_connections=limit,
        # REDIS_URL's own options (client_name may be one) win, as from_url lets them
        **{**options, **url_options},
    )
    return use_cluster_handshake(client)


def _sentinel_pool(
    settings: Settings, acquire_timeout: float, options: dict[str, Any]
) -> BlockingConnectionPool:
    """A blocking pool of at most REDIS_MAX_CONNECTIONS connections to the master the sentinels
    name (re-asked on every new connection, so it follows a failover); REDIS_URL gives the
    password, db and TLS options; the sentinels are asked with the same timeouts, retries and
    TLS, and their own credentials (REDIS_SENTINEL_USERNAME, REDIS_SENTINEL_PASSWORD)."""
    from redis.asyncio import BlockingConnectionPool
    from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

    class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
        """SentinelConnectionPool's master discovery with BlockingConnectionPool's bounded wait."""

    target = settings.redis_target
    url_options = target.connection_options()
    sentinel_options = {"ssl": True} if url_options.get("ssl") else {}
    sentinel_options.update({k: v for k, v in url_options.items() if k.startswith("ssl_")})
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        target.sentinel_addresses,
        sentinel_kwargs={
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
            # the services' short retry: redis-py's default (3 retries from 1 s, jittered)
            # held a first command ~35 s when every sentinel refused the password
            "retry": options["retry"],
            "protocol": options["protocol"],  # RESP2: a sentinel of Redis 5 has no HELLO either
            **sentinel_options,
            **target.sentinel_credentials(),
        },
    )
    pool: BlockingConnectionPool = BlockingSentinelPool(  # type: ignore[no-untyped-call]
        target.sentinel_master,
        sentinel,
        max_connections=settings.redis_max_connections,
        timeout=acquire_timeout,
        # REDIS_URL's own options (client_name may be one) win, as from_url lets them
        **{**options, **url_options},
    )
    return use_handshake(pool)


async def check_redis_health(
    client: Redis | BlockingConnectionPool | RedisCluster, timeout: float = 1.0
) -> bool:
    """True when a PING through ``client`` (a client or a pool) is answered PONG within
    ``timeout`` seconds; for a cluster client, when every master says cluster_state:ok.

    A busy pool (every connection lent out) is not an unhealthy Redis: the PING then goes over
    one short-lived connection of its own (shared by the checks that find the pool busy at the
    same time), so a liveness probe never waits for the service's own traffic.

    Never raises (cancellation aside): any error or the timeout is False.
    """
    from redis.asyncio import Redis, RedisCluster

    if isinstance(client, RedisCluster):
        return await _check_cluster_health(client, timeout)
    redis = client if isinstance(client, Redis) else Redis(connection_pool=client)
    pool = redis.connection_pool
    if pool.can_get_connection():
        ping: asyncio.Future[Any] = asyncio.ensure_future(redis.ping())
    else:
        ping = _busy_pool_ping(pool)
    # redis-py can swallow a cancellation during a connection's handshake and keep reading from
    # a frozen server, so asyncio.timeout() alone does not bound the call: stop waiting instead
    try:
        done, _ = await asyncio.wait({ping}, timeout=timeout)
    except asyncio.CancelledError:
        ping.cancel()
        raise
    if not done:
        ping.cancel()
        ping.add_done_callback(_retrieve_outcome)  # it ends on its own, in the background
        return False
    try:
        return bool(ping.result())
    except Exception:
        return False


# pool -> the PING in flight on a connection of its own, while the pool is busy
_BUSY_POOL_PINGS: weakref.WeakKeyDictionary[Any, asyncio.Future[Any]] = weakref.WeakKeyDictionary()


def _busy_pool_ping(pool: Any) -> asyncio.Future[Any]:
    """The one PING over a connection outside ``pool`` (its options, the probe's name), shared
    by every check that finds the pool busy until it ends; a cancelled waiter does not cancel
    it for the others."""
    running = _BUSY_POOL_PINGS.get(pool)
    if running is None or running.done():
        running = asyncio.ensure_future(_ping_outside(pool))
        running.add_done_callback(_retrieve_outcome)
        _BUSY_POOL_PINGS[pool] = running
    return asyncio.shield(running)


async def _ping_outside(pool: Any) -> bool:
    from cpa_ops.core.redis.model import PROBE_CLIENT_NAME

    # the probe's handshake: a refused CLIENT SETNAME is not an unhealthy Redis
    connection_class = handshake_class(
        pool.connection_class, "protocol" not in pool.connection_kwargs
    )
    connection = connection_class(**{**pool.connection_kwargs, "client_name": PROBE_CLIENT_NAME})
    try:
        await connection.connect()
        await connection.send_command("PING")
        return text(await connection.read_response()) == "PONG"
    finally:
        await connection.disconnect()


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    """Mark an abandoned task's exception as seen (no "never retrieved" warning)."""
    if not task.cancelled():
        task.exception()


async def _check_cluster_health(client: RedisCluster, timeout: float = 1.0) -> bool:
    """True when every master answers CLUSTER INFO with cluster_state:ok within ``timeout``.

    PING alone would be true on the survivors of a cluster that refuses every query; but for a
    user whose ACL refuses CLUSTER INFO, every master answering PING is all there is to know.
    """
    from redis.exceptions import NoPermissionError

    try:
        async with asyncio.timeout(timeout):
            try:
                replies = await client.execute_command(
                    "CLUSTER INFO", target_nodes=client.PRIMARIES
                )
            except NoPermissionError:
                pongs = await client.execute_command("PING", target_nodes=client.PRIMARIES)
                return _every_pong(pongs)
    except asyncio.CancelledError:
        raise
    except Exception:
        return False
    views = replies.values() if isinstance(replies, dict) else [replies]
    return bool(views) and all(_cluster_state_ok(view) for view in views)


def _every_pong(replies: Any) -> bool:
    """Whether a PING sent to several nodes was answered PONG by each (redis-py gives True per
    node, merged or as a dict by node)."""
    answers = list(replies.values()) if isinstance(replies, dict) else [replies]
    return bool(answers) and all(a is True or text(a) == "PONG" for a in answers)


def _cluster_state_ok(view: Any) -> bool:
    if isinstance(view, dict):
        return text(view.get("cluster_state", "")) == "ok"
    return parse_info_fields(view).get("cluster_state") == "ok"
