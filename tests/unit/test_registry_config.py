"""What `nozama registry` hands Distribution and HAProxy."""

from pathlib import Path

import pytest
import yaml

from nozama.registry import distribution, front, gate


def settings(tmp_path):
    return distribution.Settings(tmp_path / "storage", 41234, "s3cr3t",
                                 "http://127.0.0.1:5000/_nozama/ecr/token",
                                 "ecr.127.0.0.1:5000", tmp_path / "token-signer.crt")


def test_distributions_config_keeps_it_on_loopback_behind_token_auth(tmp_path):
    config = yaml.safe_load(distribution.render_config(settings(tmp_path)))
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "storage")
    assert config["storage"]["delete"] == {"enabled": True}
    assert config["http"]["addr"] == "127.0.0.1:41234"
    assert config["http"]["secret"] == "s3cr3t"
    assert config["auth"] == {"token": {
        "realm": "http://127.0.0.1:5000/_nozama/ecr/token", "service": "ecr.127.0.0.1:5000",
        "issuer": "nozama", "rootcertbundle": str(tmp_path / "token-signer.crt")}}


def test_the_http_secret_outlives_a_restart(tmp_path):
    first = distribution.http_secret(tmp_path)
    assert len(first) == 64 and distribution.http_secret(tmp_path) == first
    assert (tmp_path / "http-secret").stat().st_mode & 0o077 == 0


def test_garbage_collection_is_skipped_before_anything_was_pushed(tmp_path):
    registry = distribution.Distribution(tmp_path, settings(tmp_path))
    registry.write_config()
    assert registry.garbage_collect() is None
    assert not registry.log_file.exists()


def test_the_front_sends_manifest_puts_and_the_realm_to_the_gate():
    text = front.render_config(front.Address("127.0.0.1", 5000), 4001, 4002, None)
    assert "bind 127.0.0.1:5000\n" in text
    assert "path_reg ^/v2/.+/manifests/[^/]+$" in text
    assert "use_backend gate if { path_beg /_nozama/ }" in text
    assert "server gate 127.0.0.1:4001" in text and "server registry 127.0.0.1:4002" in text
    tls = front.render_config(front.Address("10.0.0.5", 5000), 1, 2, Path("/x/front.pem"))
    assert "bind 10.0.0.5:5000 ssl crt /x/front.pem" in tls


def test_the_front_serves_tls_except_on_loopback():
    assert front.parse_address("127.0.0.1:5000").scheme == "http"
    assert front.parse_address("localhost:5000").scheme == "http"
    assert front.parse_address("10.0.0.5:5000").scheme == "https"
    for bad in ("5000", "host:", "host:99999", "0.0.0.0:5000"):
        with pytest.raises(ValueError):
            front.parse_address(bad)


def test_an_images_size_is_its_config_and_layers():
    manifest = b'{"config": {"size": 7}, "layers": [{"size": 100}, {"size": 20}]}'
    assert gate.image_size(manifest) == 127
