"""One node's probe (the one skeleton every verdict is built on), and concurrent node probes
that share a deadline: a node that has not answered by then is reported as ``deadline``, never
dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cpa_ops.core.redis.connection import (
    close_connection,
    open_probe_connection,
    remaining,
    resolve,
    send_command,
    timeout_at,
)
from cpa_ops.core.redis.facts import ServerFacts, text
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, WRITE_KEY_TTL_MS, NodeState, ProbeFailure
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from cpa_ops.core.target import RedisTarget

INFO = ("INFO",)
ROLE = ("ROLE",)
#: given the replies so far, the key to SET PX and DEL (None: do not write)
WriteKey = Callable[[Mapping[str, Any]], str | None]


def health_key(slot_tag: str | None = None, prefix: str = HEALTH_KEY_PREFIX) -> str:
    """``<prefix><host>:<pid>`` (``cpa-ops:health:`` by default, REDIS_HEALTH_KEY_PREFIX):
    this process's own key; with ``slot_tag`` (a cluster looking for a key in a master's slots)
    ``<prefix>{<host>:<pid><slot_tag>}``, hash-tagged whole."""
    own = f"{socket.gethostname()}:{os.getpid()}"
    return f"{prefix}{own}" if slot_tag is None else f"{prefix}{{{own}{slot_tag}}}"


#: what a probe says when its deadline came first; the CLI adds the budget as the user gave it
#: (what remained of it when the probe began said nothing: "within 0.14 s" for --timeout 1)
DEADLINE_TEXT = "no verdict by the deadline"


async def probe_node(
    target: RedisTarget,
    *,
    deadline: float,
    commands: Sequence[tuple[str, ...]] = (),
    write_key: WriteKey | None = None,
    client_name: str = PROBE_CLIENT_NAME,
) -> NodeState:
    """Resolve, connect, PING (the round-trip), then each of ``commands``; never raises for a
    Redis fault. Everything ends by ``deadline`` (a time.monotonic() instant).

    An error reply to one of ``commands`` is kept as its reply (an ACL may deny INFO); a
    transport fault makes the node unreachable. ``INFO`` fills :attr:`NodeState.facts` (also
    when PING is refused with LOADING: how far loading got). A write failure is recorded apart
    (:attr:`NodeState.write_failure`): the node answered, its writes did not.
    """
    import redis.asyncio  # noqa: F401 - imported before timing: the round-trips time the network

    opened: list[AbstractConnection] = []
    replies: dict[str, Any] = {}
    connect_ms = rtt_ms = write_ms = None
    facts: ServerFacts | None = None
    write_failure = None
    writing = False
    try:
        try:
            async with timeout_at(deadline):
                await resolve(target, deadline)
                started = time.perf_counter()
                conn = await open_probe_connection(target, deadline, client_name, opened)
                connect_ms = (time.perf_counter() - started) * 1000
                replies.update(handshake_replies(conn))
                try:
                    rtt_ms = (await send_command(conn, deadline, "PING")).raise_error().elapsed_ms
                except ProbeFailure as failure:
                    if failure.reason == "loading" and INFO in commands:
                        facts = ServerFacts.from_reply(
                            (await send_command(conn, deadline, *INFO)).value
                        )
                    raise
                for args in commands:
                    reply = await send_command(conn, deadline, *args)
                    replies[" ".join(args[:2]).upper()] = (
                        reply.error if reply.error is not None else reply.value
                    )
                facts = ServerFacts.from_reply(replies.get("INFO"))
                key = write_key(replies) if write_key else None
                if key is not None:
                    writing = True
                    try:
                        set_reply = await send_command(
                            conn, deadline, "SET", key, "1", "PX", WRITE_KEY_TTL_MS, phase="write"
                        )
                        write_ms = set_reply.raise_error("write").elapsed_ms
                        (await send_command(conn, deadline, "DEL", key, phase="write")).raise_error(
                            "write"
                        )
                    except ProbeFailure as failure:
                        write_failure = failure
        except TimeoutError:
            # the deadline ran out before redis-py's own timeouts fired
            if not writing:
                raise ProbeFailure("deadline", DEADLINE_TEXT) from None
            # the node answered: the write (shown on redis:write) did not, in time
            write_failure = ProbeFailure("write_timeout", DEADLINE_TEXT)
    except ProbeFailure as failure:
        return NodeState(
            target.address,
            False,
            failure.reason,
            target.without_secrets(failure.detail),
            rtt_ms,
            _role(replies, facts),
            replies,
            connect_ms=connect_ms,
            facts=facts,
        )
    finally:
        await asyncio.gather(*(close_connection(conn) for conn in opened))
    if write_failure is not None:
        detail = target.without_secrets(write_failure.detail)
        write_failure = ProbeFailure(write_failure.reason, detail)
    return NodeState(
        target.address,
        True,
        rtt_ms=rtt_ms,
        role=_role(replies, facts),
        replies=replies,
        write_ms=write_ms,
        write_failure=write_failure,
        connect_ms=connect_ms,
        facts=facts,
    )


def handshake_replies(conn: Any) -> dict[str, Any]:
    """What the connection's handshake was refused (cpa_ops.core.redis.handshake): HELLO (the
    server has none: RESP2 was used) and CLIENT SETNAME (the connection has no name)."""
    refused = {"HELLO": conn.hello_refused, "CLIENT SETNAME": conn.name_refused}
    return {command: error for command, error in refused.items() if error is not None}


def _role(replies: dict[str, Any], facts: ServerFacts | None) -> str | None:
    """ROLE's first word, else INFO's ``role`` (a least-privilege user may be refused ROLE);
    a ROLE that did not answer a list (denied) is dropped from replies."""
    reply = replies.get("ROLE")
    if isinstance(reply, list) and reply:
        return text(reply[0])
    replies.pop("ROLE", None)
    return facts.role if facts is not None else None


class NodeProbes:
    """The concurrent node probes of one verdict, sharing its deadline; none outlives it."""

    def __init__(self, deadline: float, client_name: str) -> None:
        self.deadline = deadline
        self.client_name = client_name
        self._tasks: dict[asyncio.Task[NodeState], str] = {}

    def start(
        self,
        target: RedisTarget,
        commands: Sequence[tuple[str, ...]],
        write_key: WriteKey | None = None,
    ) -> asyncio.Task[NodeState]:
        task = asyncio.create_task(
            probe_node(
                target,
                deadline=self.deadline,
                commands=commands,
                write_key=write_key,
                client_name=self.client_name,
            )
        )
        self._tasks[task] = target.address
        return task

    async def results(self, tasks: Sequence[asyncio.Task[NodeState]]) -> list[NodeState]:
        """Every task's NodeState, in order, by the deadline: a task still running then is
        cancelled and reported as ``deadline`` (a slow node never vanishes from a verdict)."""
        if tasks:
            await asyncio.wait(tasks, timeout=max(remaining(self.deadline), 0) + 0.05)
        states = []
        for task in tasks:
            if task.done() and not task.cancelled():
                states.append(task.result())
                continue
            task.cancel()
            late = "no answer by the deadline"
            states.append(NodeState(self._tasks.get(task, "?"), False, "deadline", late))
        return states

    async def cancel_rest(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
