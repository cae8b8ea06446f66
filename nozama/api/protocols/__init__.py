"""Server side of the AWS wire protocols: parse requests, serialize responses and errors.

Each protocol is the mirror image of botocore's client serializer and parser
for it, and is driven by the same service model.
"""

from __future__ import annotations

from nozama.api.protocols.base import Protocol
from nozama.api.protocols.cbor import RpcV2CborProtocol
from nozama.api.protocols.json import JsonProtocol
from nozama.api.protocols.query import QueryProtocol
from nozama.api.protocols.rest_json import RestJsonProtocol
from nozama.api.protocols.ec2 import Ec2Protocol
from nozama.api.protocols.xml_errors import RestXmlProtocol

PROTOCOLS: dict[str, Protocol] = {
    "json": JsonProtocol(),
    "query": QueryProtocol(),
    "rest-json": RestJsonProtocol(),
    "smithy-rpc-v2-cbor": RpcV2CborProtocol(),
    "ec2": Ec2Protocol(),
    # Services Nozama does not serve: only their errors, in the protocol their clients read.
    "rest-xml": RestXmlProtocol(),
}
