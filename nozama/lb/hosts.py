"""Making load balancers' DNS names resolve on this machine.

The data plane keeps a block of /etc/hosts (NOZAMA_LB_HOSTS_FILE; empty to
turn it off) that maps each load balancer's DNS name to its loopback address.
Each data plane owns its own block, named after its database, so that two of
them (say, one per test database) never overwrite each other's names. The
file is rewritten in place under a lock: in containers /etc/hosts is a bind
mount that cannot be replaced by a rename.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os

log = logging.getLogger(__name__)

HOSTS_FILE = os.environ.get("NOZAMA_LB_HOSTS_FILE", "/etc/hosts")


def block_name(database_url: str) -> str:
    return hashlib.sha1(database_url.encode()).hexdigest()[:12]


def write(names: dict[str, str], owner: str, path: str = HOSTS_FILE) -> bool:
    """Make the owner's block hold exactly `names` (DNS name -> address)."""
    if not path:
        return False
    begin, end = f"# BEGIN nozama load balancers {owner}", f"# END nozama load balancers {owner}"
    try:
        with open(path, "r+") as hosts:
            fcntl.flock(hosts, fcntl.LOCK_EX)
            lines = hosts.read().splitlines()
            if begin in lines and end in lines:
                start, stop = lines.index(begin), lines.index(end)
                lines = lines[:start] + lines[stop + 1:]
            if names:
                lines += [begin] + [f"{address} {name}" for name, address in
                                    sorted(names.items())] + [end]
            hosts.seek(0)
            hosts.write("\n".join(lines) + "\n")
            hosts.truncate()
        return True
    except OSError as error:
        log.warning("cannot keep load balancer names in %s: %s", path, error)
        return False
