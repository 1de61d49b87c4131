"""An image's size is its manifest's config and layers; other documents have none."""

from __future__ import annotations

from buildsvc.worker.image_size import manifest_size


def test_config_and_layers_add_up() -> None:
    manifest = {"config": {"size": 1500}, "layers": [{"size": 100}, {"size": 2000}]}
    assert manifest_size(manifest) == 3600


def test_an_index_or_a_broken_size_has_no_size() -> None:
    assert manifest_size({"manifests": [{"size": 500}]}) is None
    assert manifest_size({"config": {"size": 1}, "layers": [{"size": "2"}]}) is None
    assert manifest_size({"config": {}, "layers": []}) is None
