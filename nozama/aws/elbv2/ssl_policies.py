"""DescribeSSLPolicies: the security policies HTTPS listeners take (model/ssl_policies.py)."""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.model import ssl_policies
from nozama.aws.elbv2 import handlers
from nozama.aws.elbv2.common import page_size
from nozama.store.pagination import decode_token, encode_token


@handlers.operation("DescribeSSLPolicies")
def describe_ssl_policies(ctx: RequestContext, params: dict) -> dict:
    names = params.get("Names")
    if names:
        missing = [n for n in names if ssl_policies.get(n) is None]
        if missing:
            raise errors.elbv2.SSLPolicyNotFoundException(
                f"One or more SSL policies not found: {missing}")
        chosen = [ssl_policies.POLICIES[n] for n in dict.fromkeys(names)]
    else:
        chosen = list(ssl_policies.POLICIES.values())
    kind = params.get("LoadBalancerType")
    documents = [p.describe() for p in chosen]
    if kind:
        documents = [d for d in documents if kind in d["SupportedLoadBalancerTypes"]]
    limit = page_size(params)
    start = decode_token(params.get("Marker"), "DescribeSSLPolicies", int,
                         error=ValidationError) or 0
    result = {"SslPolicies": documents[start:start + limit]}
    if start + limit < len(documents):
        result["NextMarker"] = encode_token("DescribeSSLPolicies", start + limit)
    return result
