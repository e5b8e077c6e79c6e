"""Every package registers its place in the suite and its GPU rows; core lists none of them."""

from __future__ import annotations

from importlib.metadata import entry_points

from sparse_core import gpu_suite, suite

PACKAGES = ("dilemma", "scale", "river", "vidrop", "sfclip")


def test_each_package_registers_its_place_and_the_order_is_the_thesis_order() -> None:
    registered = {ep.name for ep in entry_points(group=suite.ORDER_GROUP)}
    assert registered == set(PACKAGES)
    assert suite.ORDER == ("core", *PACKAGES)
    assert list(suite.discover("sparse_ssl.demo")) == list(suite.ORDER)


def test_gpu_rows_are_the_packages_registrations() -> None:
    registered = {ep.name for ep in entry_points(group=gpu_suite.GPU_GROUP)}
    assert registered == set(PACKAGES)
    rows = gpu_suite.discover_rows()
    assert [r.name for r in rows] == [
        "core_vit_b_eager", "core_vit_s_eager", "dilemma_epoch_ratio", "scale_samples_per_s", "river_predict16",
        "vidrop_clips_per_s", "core_vit_b_compiled", "core_vit_s_compiled", "dilemma_learning_sanity"]
    assert [r.phase for r in rows] == [0] * 6 + [1] * 3
    # each row's function lives in the package that registered it
    owner = {"core": "sparse_core", "dilemma": "dilemma_ssl", "scale": "scale_video", "river": "river_vp",
             "vidrop": "vidrop"}
    for row in rows:
        assert row.fn.__module__.split(".")[0] == owner[row.name.split("_")[0]], row.name
