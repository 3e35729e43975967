"""Every reason code a Redis verdict can carry, its explanation and its hint: one table, one
lookup (:func:`reason_of`).

Failures of one server (``refused`` ... ``deadline``), the warnings of its checks (``slow``,
``memory``, ``clients``, ``stale``), and the verdicts of a cluster or a sentinel set-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """A fault the probe can name: what it means and what to do about it."""

    code: str
    explanation: str
    hint: str
    #: the hint for a replica of a cluster or sentinel set-up, where the services talk to the
    #: master (empty: :attr:`hint` fits both)
    replica_hint: str = ""


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "refused",
            "nothing accepts connections at that address (connection refused)",
            "start Redis, or fix the host/port in REDIS_URL",
        ),
        Reason(
            "unreachable",
            "the network has no route to that address",
            "check the host in REDIS_URL and the network between here and Redis",
        ),
        Reason(
            "timeout",
            "the TCP connection was not accepted in time (host black-holed, firewalled or down)",
            "check that the host is up and that a firewall or security group lets this pod in",
        ),
        Reason(
            "read_timeout",
            "connected, but the server did not answer in time (frozen, overloaded or not Redis)",
            "check the server's CPU and SLOWLOG; a SIGSTOPped or swapping process looks like this",
        ),
        Reason(
            "dns",
            "the host name in REDIS_URL could not be resolved",
            "check the host name and the pod's DNS (resolv.conf, CoreDNS)",
        ),
        Reason(
            "tls",
            "the TLS handshake failed: the server's certificate is not trusted or does not match",
            "pass the right CA (rediss://...?ssl_ca_certs=/path/ca.pem) or fix the host name",
        ),
        Reason(
            "auth",
            "Redis refused our credentials (NOAUTH or WRONGPASS)",
            "set the right password (and user) in REDIS_URL: redis://user:password@host:6379/0",
        ),
        Reason(
            "protocol",
            "the peer does not speak Redis here (not Redis, or a TLS/plain mismatch)",
            "use rediss:// for a TLS port and redis:// for a plain one; check the port",
        ),
        Reason(
            "loading",
            "Redis is loading its dataset into memory and refuses commands until done",
            "wait for loading to finish (see the ETA); it is not ready for traffic yet",
        ),
        Reason(
            "max_clients",
            "Redis has reached maxclients and refuses new connections",
            "find the client leaking connections (CLIENT LIST) or raise maxclients",
        ),
        Reason(
            "misconf",
            "Redis refuses writes (and PING) because its last RDB/AOF save failed (MISCONF)",
            "fix the disk or permissions of Redis's dir, then BGSAVE; see the server log",
        ),
        Reason(
            "masterdown",
            "this replica has lost its master and is set not to serve stale data (MASTERDOWN)",
            "restore the master or the replication link; see INFO replication",
        ),
        Reason(
            "readonly",
            "the server is a read-only replica: writes are refused",
            "point REDIS_URL at the master (or the Sentinel/Cluster entry point)",
        ),
        Reason(
            "oom",
            "Redis is at maxmemory with a noeviction policy: writes are refused (OOM)",
            "free memory, raise maxmemory, or choose an eviction policy",
        ),
        Reason(
            "write_timeout",
            "a write was not answered in time (CLIENT PAUSE WRITE, a slow disk with "
            "appendfsync always, or a blocked server)",
            "check CLIENT LIST for a pause, and the server's latency (LATENCY DOCTOR)",
        ),
        Reason(
            "error",
            "Redis answered with an unexpected error",
            "read the error above and the server log",
        ),
        Reason(
            "deadline",
            "the check did not finish within its time budget",
            "raise --timeout, or look for a hanging DNS lookup or a frozen server",
        ),
        # warnings of a server's checks
        Reason(
            "slow",
            "the round-trip is slower than --warn-ms",
            "check network latency and the server's load (LATENCY DOCTOR)",
        ),
        Reason(
            "memory",
            "used memory is near maxmemory",
            "free memory, raise maxmemory or pick an eviction policy",
        ),
        Reason(
            "clients",
            "connected clients are near maxclients",
            "find the client leaking connections (CLIENT LIST) or raise maxclients",
        ),
        Reason(
            "stale",
            "replica serving possibly stale data: its link to the master is down",
            "restore the master or the replication link (INFO replication)",
        ),
        # cluster and sentinel verdicts
        Reason(
            "cluster_down",
            "the cluster reports cluster_state:fail: it refuses queries (CLUSTERDOWN), even on "
            "nodes that answer PING",
            "bring the failed master back or let a replica take over; see CLUSTER INFO and "
            "CLUSTER NODES",
        ),
        Reason(
            "slots_unserved",
            "some hash slots have no reachable master: queries for their keys fail",
            "restart the unreachable master, or wait for cluster-node-timeout and a replica's "
            "failover; assign any unassigned slots (redis-cli --cluster fix)",
        ),
        Reason(
            "not_cluster",
            "the seed answered, but not as a Redis Cluster node (cluster support disabled?)",
            "set REDIS_MODE to what the server is (standalone, cluster or sentinel)",
        ),
        Reason(
            "degraded",
            "a node is unreachable (or suspected down), but every slot is still served",
            "restart the node: the cluster has less redundancy until it is back",
        ),
        Reason(
            "no_quorum",
            "the sentinels cannot reach their quorum: a failover could not be authorised",
            "bring sentinels back until a majority is reachable (SENTINEL CKQUORUM)",
        ),
        Reason(
            "no_master",
            "no usable master: the sentinels name none, disagree, or name one that is down",
            "check the master and SENTINEL MASTER <name>; during a failover this clears in "
            "a few seconds",
        ),
        Reason(
            "not_master",
            "the node the sentinels call master answers ROLE as a replica",
            "the sentinels' view is stale or split: check SENTINEL MASTER and the node's "
            "REPLICAOF; the sentinels reconfigure it after a while",
        ),
        Reason(
            "failover",
            "the sentinels consider the master down (o_down) or are failing over",
            "wait for the failover to finish; check SENTINEL MASTER <name> flags",
        ),
        Reason(
            "sentinel_auth",
            "the sentinel refused our credentials (NOAUTH or WRONGPASS): sentinels have a "
            "password of their own",
            "set REDIS_SENTINEL_PASSWORD to the sentinels' requirepass (and "
            "REDIS_SENTINEL_USERNAME for an ACL user on them); REDIS_URL's password is the "
            "master's and replicas'",
        ),
        Reason(
            "sentinel_disagrees",
            "this sentinel names a different master than the majority",
            "it may lag behind a failover; check its SENTINEL MASTER and its connectivity",
        ),
        Reason(
            "replica_down",
            "a replica is unreachable or its link to the master is not up",
            "restart the replica or restore its link (INFO replication on the replica)",
        ),
        Reason(
            "no_replica",
            "the master has no replica: a failover has nowhere to go",
            "add a replica (REPLICAOF) so the sentinels can fail over",
        ),
        # --- issue 14: TLS files, socket permission, replication ---
        Reason(
            "tls_config",
            "a TLS file named in REDIS_URL cannot be used (checked here before connecting: "
            "the server was not asked)",
            "fix the ssl_* option or the file: ssl_ca_certs and ssl_certfile take readable PEM "
            "files, ssl_keyfile its PEM key (ssl_password when encrypted), ssl_ca_path a "
            "directory of CA certificates",
        ),
        Reason(
            "client_cert",
            "the server demands a client certificate (tls-auth-clients yes) and none was "
            "presented, or it was not accepted",
            "add ssl_certfile=/path/client.pem&ssl_keyfile=/path/client.key to REDIS_URL, a "
            "certificate signed by a CA in the server's tls-ca-cert-file",
        ),
        Reason(
            "socket_permission",
            "the unix socket refuses this user (permission denied)",
            "run the probe as a user the socket's owner, group and mode let in (write "
            "permission on the socket, search on its directories), or widen Redis's "
            "unixsocketperm (e.g. 770, with the probe in the socket's group)",
        ),
        Reason(
            "no_socket",
            "no unix socket at that path (no such file)",
            "start Redis, or fix the path in REDIS_URL (unix:///path/to/redis.sock) to Redis's "
            "unixsocket setting; in a container, check the volume that shares the socket",
        ),
        Reason(
            "not_socket",
            "the path exists but is not a unix socket (a regular file or a directory)",
            "point REDIS_URL at the socket file itself (Redis's unixsocket setting), not at a "
            "file or directory beside it",
        ),
        Reason(
            "syncing",
            "this replica has not completed a sync with its master (never since it started, "
            "or a full sync is in progress): it serves an empty, partial or old dataset",
            "wait for the sync to finish (INFO replication: master_link_status:up); if it "
            "never starts, check the master's address and masterauth, and both servers' logs",
            "the master serves the data, but a failover to this replica now would lose it: "
            "wait for the sync to finish (INFO replication on the replica: "
            "master_link_status:up); if it never starts, check its masterauth and the master's "
            "repl-diskless-sync-delay, and both servers' logs",
        ),
        Reason(
            "writable_replica",
            "the write succeeded on a replica (replica-read-only no): such writes are not "
            "replicated and the next full sync discards them",
            "point REDIS_URL at the master; keep replica-read-only yes on replicas",
        ),
        Reason(
            "persistence",
            "the last save failed, and Redis still accepts writes (stop-writes-on-bgsave-error "
            "no): a restart loses what was written since the last good save",
            "fix the disk or the permissions of Redis's dir, then BGSAVE (or BGREWRITEAOF); "
            "see the server log",
        ),
        # --- issue 14: ACL, mode, protocol, replies ---
        Reason(
            "denied",
            "Redis accepted the credentials, but the user's ACL does not allow a command the "
            "probe needs (NOPERM)",
            "allow the command for this user: ACL SETUSER <user> +ping (the probe also uses "
            "+info and +client|setname; both may be denied)",
        ),
        Reason(
            "write_denied",
            "the user's ACL does not allow SET and DEL of the health key (NOPERM)",
            "ACL SETUSER <user> ~cpa-ops:health:* +set +del, or point --write-prefix "
            "(REDIS_HEALTH_KEY_PREFIX) at keys the user may write",
        ),
        Reason(
            "info_denied",
            "INFO was refused (an ACL without +info, or INFO renamed): checks that read it "
            "could not run",
            "ACL SETUSER <user> +info to have memory, clients and replication checked",
        ),
        Reason(
            "mode_sentinel",
            "REDIS_URL points at a Sentinel, not at a Redis server: its PONG says nothing about "
            "the data",
            "set REDIS_MODE=sentinel (--mode sentinel) with REDIS_SENTINELS=host:port,... "
            "(--sentinels) and REDIS_SENTINEL_MASTER=<name> (--sentinel-master); REDIS_URL then "
            "gives only the password, db and TLS",
        ),
        Reason(
            "mode_cluster",
            "the server is a Redis Cluster node: a standalone client gets MOVED for every key "
            "in another node's slots",
            "set REDIS_MODE=cluster (--mode cluster) and list seed nodes in REDIS_URL: "
            "redis://host-1:6379,redis://host-2:6379 (db 0 only)",
        ),
        Reason(
            "not_sentinel",
            "an address in REDIS_SENTINELS answers as a Redis server, not as a Sentinel",
            "list the sentinels (port 26379 by default) in REDIS_SENTINELS, or set "
            "REDIS_MODE=standalone with REDIS_URL at the server",
        ),
        Reason(
            "resp3_unsupported",
            "REDIS_URL asks for protocol=3, but the server has no HELLO (Redis < 6): RESP3 "
            "cannot be used",
            "remove protocol=3 from REDIS_URL (or set protocol=2), or upgrade Redis to 6 or later",
        ),
        Reason(
            "busy",
            "Redis is running a script or function past busy-reply-threshold (lua-time-limit) "
            "and refuses other commands (BUSY)",
            "find the script (the server log, SLOWLOG) and stop it with SCRIPT KILL (FUNCTION "
            "KILL); one that has written can only be stopped by SHUTDOWN NOSAVE",
        ),
        Reason(
            "noreplicas",
            "writes are refused: fewer good replicas than min-replicas-to-write (NOREPLICAS)",
            "bring the replicas back (INFO replication on the master), or lower "
            "min-replicas-to-write / raise min-replicas-max-lag",
        ),
        Reason(
            "db_range",
            "the database number in REDIS_URL does not exist on this server (DB index is out "
            "of range)",
            "use a db from 0 to the server's databases setting minus 1 (16 by default): "
            "redis://host:6379/0",
        ),
        Reason(
            "protected_mode",
            "Redis refuses clients from other hosts: it runs in protected mode, without a "
            "password for the default user (DENIED)",
            "set a password (requirepass or an ACL user) on the server and in REDIS_URL, or "
            "bind Redis to the interface the clients use with protected-mode no",
        ),
        Reason(
            "closed",
            "the peer closed the connection unasked, without an error reply (a proxy or load "
            "balancer with no backend or refusing a command, or a server dropping clients)",
            "check the proxy's backends (HAProxy, Envoy, a cloud load balancer), the commands it "
            "lets through (PING, INFO, SET, DEL), and that Redis behind it is up; check the port",
        ),
    )
}


def reason_of(code: str | None) -> Reason:
    """The explanation and hint of any reason code (``error``'s for an unknown one)."""
    return REASONS.get(code or "error") or REASONS["error"]
