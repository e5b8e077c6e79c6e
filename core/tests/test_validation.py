"""sparse_core.validation: each check accepts its range and refuses the rest with the key in the message."""

from __future__ import annotations

import math

import pytest

from sparse_core.config import ConfigError
from sparse_core.data.video import VideoDataConfig
from sparse_core.validation import check_choice, check_divisible, check_each, check_float, check_int, check_interval


def test_check_int() -> None:
    check_int("a.b", 1, 1)
    check_int("a.b", None, 1, optional=True)
    check_int("a.b", 8, 1, high=8)
    for bad in (0, -1, 1.5, True, None, "3"):
        with pytest.raises(ConfigError, match=r"^a\.b must be an integer >= 1, got "):
            check_int("a.b", bad, 1)
    with pytest.raises(ConfigError, match=r"a\.b must be an integer >= 1 and <= 8, got 9"):
        check_int("a.b", 9, 1, high=8)


def test_check_float() -> None:
    check_float("r", 0.0, 0.0, strict=False, high=1.0, high_strict=True)
    check_float("r", 3, 0.0, strict=True)
    for bad in (1.0, -0.1, math.nan, math.inf, False):
        with pytest.raises(ConfigError, match=r"^r must be a finite number >= 0 and < 1, got "):
            check_float("r", bad, 0.0, strict=False, high=1.0, high_strict=True)
    with pytest.raises(ConfigError, match=r"r must be a finite number > 0, got 0"):
        check_float("r", 0, 0.0, strict=True)


def test_check_choice_and_each() -> None:
    check_choice("k", "b", ("a", "b"))
    with pytest.raises(ConfigError, match=r"^k must be one of 'a', 'b', got 'c'$"):
        check_choice("k", "c", ("a", "b"))
    check_each("k", ["a", "a"], ("a", "b"))
    with pytest.raises(ConfigError, match=r"^k\[1\] must be one of 'a', 'b', got 'z'$"):
        check_each("k", ["a", "z"], ("a", "b"))
    with pytest.raises(ConfigError, match="k must be a list"):
        check_each("k", "a", ("a",))


def test_check_divisible_and_interval() -> None:
    check_divisible("img", 24, "patch", 4)
    with pytest.raises(ConfigError, match=r"^img \(24\) must be divisible by patch \(5\)$"):
        check_divisible("img", 24, "patch", 5)
    check_interval("s", (0.2, 0.2), 0.0, 1.0)
    for bad in ((0.5, 0.2), (0.1,), (0.0, 0.5), "ab", (0.2, 1.5)):
        with pytest.raises(ConfigError, match=r"^s"):
            check_interval("s", bad, 0.0, 1.0, strict_low=True)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"num_videos": 0}, "data.num_videos"), ({"num_frames": -1}, "data.num_frames"),
     ({"image_size": 0}, "data.image_size"), ({"seed": -1}, "data.seed"), ({"num_classes": 0}, "data.num_classes"),
     ({"num_classes": 9}, "data.num_classes"), ({"num_shapes": 0}, "data.num_shapes"),
     ({"segment_frames": -2}, "data.segment_frames")],
)
def test_video_data_config_ranges(kwargs: dict[str, int], key: str) -> None:
    VideoDataConfig()
    with pytest.raises(ConfigError, match=rf"^{key} must be"):
        VideoDataConfig(**kwargs)
