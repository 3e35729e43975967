"""What a least-privilege ACL user was refused, said as the rule to add.

``auth`` is for wrong credentials only. A user that logged in but may not run PING (or SELECT)
is ``denied``, one that may not write the health key ``write_denied`` (its hint names the rule,
with the key pattern from the write prefix), and a denied INFO a warning naming the checks that
could not run. A denied CLIENT SETNAME costs only the connection's name (see handshake).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.facts import text
from cpa_ops.core.redis.model import NodeState
from cpa_ops.core.redis.reasons import reason_of
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

#: the checks that read INFO, and what they would have said
INFO_CHECKS = ("redis:memory", "redis:clients", "redis:replication")
_COMMAND = re.compile(r"run the '([^']+)' command", re.IGNORECASE)


def acl_user(connection_options: dict[str, Any]) -> str:
    """The ACL user REDIS_URL logs in as (``default`` when it names none)."""
    return str(connection_options.get("username") or "default")


def denied_hint(detail: str | None, user: str) -> str:
    """The rule letting ``user`` run the command a NOPERM ``detail`` names."""
    match = _COMMAND.search(detail or "")
    command = match.group(1).lower() if match else "ping"
    if command.startswith("cluster|"):
        return (
            f"allow it: ACL SETUSER {user} +{command} (a cluster's verdict reads CLUSTER NODES "
            "for its nodes and slots, and CLUSTER INFO for cluster_state)"
        )
    return (
        f"allow it: ACL SETUSER {user} +{command} (the probe sends PING, INFO and CLIENT "
        "SETNAME; only PING is required)"
    )


def write_denied_hint(user: str, prefix: str = HEALTH_KEY_PREFIX) -> str:
    """The rule letting ``user`` SET and DEL the health keys under ``prefix``."""
    return (
        f"allow it: ACL SETUSER {user} ~{prefix}* +set +del, or give --write-prefix "
        "(REDIS_HEALTH_KEY_PREFIX) a prefix the user may write"
    )


def with_acl_hints(checks: list[Check], user: str, prefix: str) -> list[Check]:
    """``checks`` with the hints of ``denied`` and ``write_denied`` naming ``user``'s rule."""
    shown = []
    for check in checks:
        # (a check with a hint of its own, not the reason's, keeps it)
        if check.reason == "denied" and check.hint in (None, reason_of("denied").hint):
            check = replace(check, hint=denied_hint(check.output, user))
        elif check.reason == "write_denied":
            check = replace(check, hint=write_denied_hint(user, prefix))
        shown.append(check)
    return shown


def naming_user(checks: Iterable[Check], user: str, prefix: str) -> tuple[Check, ...]:
    """Every check of a topology's verdict with its ACL hints naming ``user`` (the verdicts
    of each node leave ``<user>`` in them)."""
    named = with_acl_hints(list(checks), user, prefix)
    return tuple(
        replace(c, hint=c.hint.replace("<user>", user)) if c.hint and "<user>" in c.hint else c
        for c in named
    )


def info_warning(state: NodeState) -> tuple[str, str] | None:
    """("info_denied", text) when INFO was answered with an error: which checks did not run."""
    reply = state.replies.get("INFO")
    if not state.reachable or not isinstance(reply, Exception):
        return None
    checks = ", ".join(INFO_CHECKS)
    return "info_denied", f"INFO refused ({text(reply)}): {checks} not checked"


def info_check(warning: tuple[str, str], user: str) -> Check:
    """``redis:info``, a warn: INFO was refused and the checks reading it did not run."""
    code, output = warning
    hint = reason_of(code).hint.replace("<user>", user)
    details = {"notChecked": list(INFO_CHECKS)}
    return Check("redis", "info", Status.WARN, output, reason=code, hint=hint, details=details)
