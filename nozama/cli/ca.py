"""`nozama ca`: print the root certificate of Nozama's certificate authority.

ACM's RequestCertificate is answered by a certificate authority of Nozama's own; a
client trusts the HTTPS listeners that serve its certificates once it trusts this
root. The root lives in the store, so the command asks a server for it
(GET /_nozama/ca.pem) and prints the PEM text.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from nozama.cli import endpoints
from nozama.cli.help import command


def add_parser(commands) -> None:
    ca = command(commands, "ca", "print the root certificate that signs requested "
                 "certificates", (
                     "nozama ca > nozama-ca.pem",
                     "nozama ca --endpoint http://10.0.0.5:4566 "
                     "| sudo tee /usr/local/share/ca-certificates/nozama.crt",
                     "nozama ca --data-dir ./state > ca.pem      # before trusting HTTPS"))
    endpoints.add_argument(ca)
    store = ca.add_mutually_exclusive_group()
    store.add_argument("--data-dir", help="read it from this data dir's store instead (for a "
                       "server on HTTPS that clients do not trust yet)")
    store.add_argument("--database-url", help="read it from this PostgreSQL store instead")
    ca.add_argument("--log-level", default="warning", help="debug, info, warning or error")


def run(args: argparse.Namespace) -> int:
    if args.data_dir or args.database_url:
        return _from_store(args)
    url = " or ".join(f"{endpoint}/_nozama/ca.pem" for endpoint in args.endpoints)
    try:
        with endpoints.urlopen(args.rotation,
                               lambda endpoint: endpoint + "/_nozama/ca.pem") as response:
            sys.stdout.write(response.read().decode())
        return 0
    except urllib.error.HTTPError as error:
        if error.code == 404:
            print("nozama ca: the certificate authority has no root yet; the first ACM "
                  "RequestCertificate makes it.", file=sys.stderr)
        else:
            print(f"nozama ca: {url} answered {error.code}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"nozama ca: cannot reach {url}: {error}", file=sys.stderr)
        return 1


def _from_store(args: argparse.Namespace) -> int:
    from nozama.model.certificate_authority import Root
    from nozama.store import Store
    from nozama.store import certificates as cert_store
    from nozama.store.db import sqlite_url
    store = Store.open(args.database_url or sqlite_url(args.data_dir))
    try:
        with store.read() as conn:
            data = cert_store.authority_if_any(conn)
    finally:
        store.close()
    if data is None:
        print("nozama ca: the certificate authority has no root yet; `nozama server --tls` "
              "or the first ACM RequestCertificate makes it.", file=sys.stderr)
        return 1
    sys.stdout.write(Root.from_bytes(data).certificate)
    return 0
