"""What enters the reader from outside: plates in any digits, and images too large to decode."""
from __future__ import annotations

import pytest
from PIL import Image

from lpr.image_io import ImageLoadError, load_image
from lpr.plate_format import PlateFormatError, format_plate, is_valid_plate, normalize_plate


@pytest.mark.parametrize("typed", ["1234567", "12-345-67", " 12 345 67 ", "１２３４５６７", "١٢٣٤٥٦٧", "۱۲۳۴۵۶۷",
                                   "12‐345‐67", "12－345－67"])
def test_every_way_of_typing_a_plate_is_the_same_ascii_plate(typed):
    assert normalize_plate(typed) == "1234567"


@pytest.mark.parametrize("bad", ["12", "123456789012", "12a4567", "", "1234567.0", "12_345_67"])
def test_a_value_that_is_no_plate_is_refused_with_the_value_named(bad):
    with pytest.raises(PlateFormatError, match="invalid plate"):
        normalize_plate(bad)


def test_non_ascii_digits_are_not_a_valid_plate_until_normalised():
    assert not is_valid_plate("１２３４５６７")
    with pytest.raises(PlateFormatError):
        format_plate("١٢٣٤٥٦٧")


def test_a_decompression_bomb_is_refused_before_its_pixels_are_decoded(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb, optimize=True)  # ~100 KB on disk, 900 megapixels
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ImageLoadError, match="megapixels"):
        load_image(bomb)


def test_an_ordinary_photo_still_loads(tmp_path):
    p = tmp_path / "ok.png"
    Image.new("RGB", (640, 480), (200, 180, 20)).save(p)
    assert load_image(p).shape == (480, 640, 3)
