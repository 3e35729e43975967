"""A unix socket path checked before connecting (issue 14): missing (``no_socket``), not a
socket (``not_socket``), or closed to this user (``socket_permission``, naming the socket's
owner and mode), rather than a ``refused`` that says "start Redis"."""

from __future__ import annotations

import errno
import os
import stat

from cpa_ops.core.redis.model import ProbeFailure


def _who() -> str:
    return f"this process runs as uid {os.geteuid()} gid {os.getegid()}"


def _owner(status: os.stat_result) -> str:
    """``srwxr-x--- owned by uid 999 gid 999`` (names where the system knows them)."""
    try:
        import grp
        import pwd

        user: str = pwd.getpwuid(status.st_uid).pw_name
        group: str = grp.getgrgid(status.st_gid).gr_name
    except (ImportError, KeyError):
        user, group = str(status.st_uid), str(status.st_gid)
    return f"{stat.filemode(status.st_mode)} owned by {user}:{group}"


def _closed_directory(path: str) -> str:
    """The first directory on the way to ``path`` that this user may not search."""
    directory = os.path.dirname(os.path.abspath(path))
    parents = []
    while True:
        parents.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for directory in reversed(parents):
        if not os.access(directory, os.X_OK):
            try:
                return f"its directory {directory} ({_owner(os.stat(directory))})"
            except OSError:
                return f"its directory {directory}"
    return "a directory on its path"


def permission_failure(path: str) -> ProbeFailure:
    """``socket_permission`` for ``path``, naming what refuses this user."""
    try:
        status = os.stat(path)
    except PermissionError:
        return ProbeFailure(
            "socket_permission", f"{path}: {_closed_directory(path)} is closed; {_who()}"
        )
    except OSError:
        return ProbeFailure("socket_permission", f"{path}: permission denied; {_who()}")
    return ProbeFailure(
        "socket_permission",
        f"{path} is {_owner(status)}; connecting needs write permission on it, and {_who()}",
    )


def socket_failure(path: str) -> ProbeFailure | None:
    """The fault of the unix socket at ``path`` seen from here; None when it may be connected
    to (whether Redis listens is the connect's to say)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        directory = os.path.dirname(os.path.abspath(path))
        gone = "" if os.path.isdir(directory) else f" (nor does its directory {directory})"
        return ProbeFailure("no_socket", f"{path} does not exist{gone}")
    except PermissionError:
        return permission_failure(path)
    except OSError as exc:
        return ProbeFailure("no_socket", f"{path}: {exc.strerror or type(exc).__name__}")
    if not stat.S_ISSOCK(status.st_mode):
        kind = "a directory" if stat.S_ISDIR(status.st_mode) else "a regular file"
        if not stat.S_ISDIR(status.st_mode) and not stat.S_ISREG(status.st_mode):
            kind = f"not a socket ({stat.filemode(status.st_mode)})"
        return ProbeFailure("not_socket", f"{path} is {kind}, not a unix socket")
    if not os.access(path, os.W_OK):
        return permission_failure(path)
    return None


def is_permission_error(chain: list[BaseException]) -> bool:
    """True when a connect failed with EACCES/EPERM (the check above raced, or was fooled)."""
    return any(
        isinstance(e, PermissionError) or (isinstance(e, OSError) and e.errno == errno.EACCES)
        for e in chain
    ) or any("PERMISSION DENIED" in str(e).upper() for e in chain)
