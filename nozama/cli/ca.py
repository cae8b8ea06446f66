"""`nozama ca`: print the root certificate of Nozama's certificate authority.

ACM's RequestCertificate is answered by a certificate authority of Nozama's own; a
client trusts the HTTPS listeners that serve its certificates once it trusts this
root. The root lives in the store, so the command asks a server for it
(GET /_nozama/ca.pem) and prints the PEM text.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

from nozama.cli.help import command


def add_parser(commands) -> None:
    ca = command(commands, "ca", "print the root certificate that signs requested "
                 "certificates", (
                     "nozama ca > nozama-ca.pem",
                     "nozama ca --endpoint http://10.0.0.5:4566 "
                     "| sudo tee /usr/local/share/ca-certificates/nozama.crt"))
    ca.add_argument("--endpoint", default=os.environ.get(
        "AWS_ENDPOINT_URL", os.environ.get("NOZAMA_ENDPOINT", "http://127.0.0.1:4566")),
        help="URL of Nozama's API (env AWS_ENDPOINT_URL or NOZAMA_ENDPOINT)")
    ca.add_argument("--log-level", default="warning", help="debug, info, warning or error")


def run(args: argparse.Namespace) -> int:
    url = args.endpoint.rstrip("/") + "/_nozama/ca.pem"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
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
