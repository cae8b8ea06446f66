"""model/address_pools.py: which addresses of a pool load balancers take."""

from nozama.model.address_pools import contains, free_address, size


def test_a_pool_leaves_out_its_network_and_broadcast_addresses_unless_tiny():
    assert size(["198.18.64.0/30"]) == 2 and size(["198.18.64.0/24", "10.0.0.1/32"]) == 255
    assert free_address(["198.18.64.0/30"], set()) == "198.18.64.1"
    assert free_address(["198.18.64.0/30"], {"198.18.64.1"}) == "198.18.64.2"
    assert free_address(["198.18.64.0/30"], {"198.18.64.1", "198.18.64.2"}) is None
    assert free_address(["198.18.64.0/31"], {"198.18.64.0"}) == "198.18.64.1"
    assert contains(["198.18.64.0/30"], "198.18.64.3")
    assert not contains(["198.18.64.0/30"], "198.18.64.4")
