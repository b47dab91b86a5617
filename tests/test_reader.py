"""The shipped reader on freshly generated plates and on every kind of bad input a gate sees."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lpr.config import DETECTOR_ONNX, DETECTOR_PT, OCR_PT
from lpr.image_io import ImageLoadError, load_image
from plategen.scenes import _background, place_plate

pytestmark = pytest.mark.skipif(not (DETECTOR_ONNX.exists() and OCR_PT.exists()), reason="weights not shipped")


@pytest.fixture(scope="module")
def reader():
    from lpr import Reader

    return Reader()


def gate_frame(text: str, yaw: float, seed: int, width: float = 260, size=(1280, 720), center=None) -> np.ndarray:
    """A clean gate-camera frame: drawn background, one plate at a known angle."""
    rng = np.random.default_rng(seed)
    img = _background(rng, *size)
    place_plate(img, rng, width, center or (size[0] * 0.5, size[1] * 0.6), yaw, rng.uniform(-5, 5),
                rng.uniform(-3, 3), text=text, frame=False)
    return img


PLATES = ["1234567", "80144268", "5520801", "92508501", "3442738", "15236303"]


def test_reads_generated_plates_at_several_angles(reader):
    cases = [(t, yaw) for t in PLATES for yaw in (-35, 0, 35)]
    hits = 0
    for i, (text, yaw) in enumerate(cases):
        reads = reader.read(gate_frame(text, yaw, seed=100 + i))
        hits += bool(reads) and reads[0].text == text
    assert hits >= 0.8 * len(cases), f"{hits}/{len(cases)} generated plates read exactly"


def test_a_read_carries_corners_box_confidences_and_timings(reader):
    (read, *_) = reader.read(gate_frame("7744452", 0, seed=1))
    assert read.valid and read.text == "7744452"
    assert read.corners.shape == (4, 2)
    assert len(read.char_conf) == 7 and all(0 <= c <= 1 for c in read.char_conf)
    assert 0 < read.confidence <= 1
    assert set(read.timings_ms) == {"detect", "rectify", "ocr"}
    tl, tr, br, bl = read.corners
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1]
    assert read.crop is not None and read.crop.ndim == 3


def test_two_plates_in_one_frame_give_two_reads(reader):
    rng = np.random.default_rng(5)
    img = _background(rng, 1280, 720)
    place_plate(img, rng, 240, (330, 400), 10, 0, 0, text="1234567", frame=False)
    place_plate(img, rng, 240, (950, 420), -10, 0, 0, text="76543210", frame=False)
    texts = {r.text for r in reader.read(img) if r.valid}
    assert texts == {"1234567", "76543210"}


def test_a_frame_without_a_plate_gives_no_valid_read(reader):
    img = _background(np.random.default_rng(9), 1280, 720)
    assert [r for r in reader.read(img) if r.valid] == []


def test_invalid_reads_are_flagged_never_passed_as_plates(reader):
    for r in reader.read(gate_frame("1234567", 0, seed=3)):
        assert r.valid == (r.text.isdigit() and len(r.text) in (7, 8))


def test_close_up_plate_filling_the_photo_is_found(reader):
    """A phone held at the plate: the plate spans ~85 % of the frame, beyond the detector's training sizes."""
    hits = 0
    for i, text in enumerate(["2117561", "69222580", "5824037"]):
        img = gate_frame(text, 0, seed=40 + i, width=540, size=(640, 360), center=(320, 180))
        reads = reader.read(img)
        hits += bool(reads) and reads[0].valid and reads[0].text == text
    assert hits >= 2, f"{hits}/3 close-up plates read"


def test_tight_crop_is_read_whole(reader):
    img = gate_frame("3442738", 0, seed=4)
    read = reader.read(img)[0]
    x1, y1, x2, y2 = map(int, read.box)
    crop = img[y1:y2, x1:x2]
    assert reader.read_crop(crop).text == "3442738"


def test_loose_crop_is_read_where_the_detector_finds_the_plate(reader):
    """A plate photo with car round it: the whole image squeezed into the OCR cannot be read, the plate found in it can."""
    from lpr.rectify import crop_as_plate

    hits = 0
    for i, text in enumerate(PLATES):
        img = gate_frame(text, 20, seed=300 + i)
        x1, y1, x2, y2 = map(int, reader.read(img)[0].box)
        w = x2 - x1
        loose = img[max(0, y1 - w // 2):y2 + w // 2, max(0, x1 - w):x2 + w]
        assert reader.ocr.read([crop_as_plate(loose)])[0].text != text  # read whole alone, it fails
        read = reader.read_crop(loose)
        hits += read is not None and read.text == text
    assert hits >= len(PLATES) - 1, f"{hits}/{len(PLATES)} loose crops read"


@pytest.mark.parametrize("convert", ["grey", "rgba", "16bit"])
def test_grey_rgba_and_16_bit_images_are_read(reader, convert):
    img = gate_frame("5520801", 0, seed=6)
    if convert == "grey":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif convert == "rgba":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    else:
        img = img.astype(np.uint16) * 257
    assert reader.read(img)[0].text == "5520801"


def test_exif_rotated_phone_photo_is_turned_upright(tmp_path):
    from PIL import Image

    upright = np.zeros((40, 80, 3), np.uint8)
    upright[:, :40] = 255  # white left half
    stored = np.rot90(upright, 1)  # what a phone stores: pixels turned, EXIF says how to turn back
    im = Image.fromarray(np.ascontiguousarray(stored[:, :, ::-1]))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    p = tmp_path / "phone.jpg"
    im.save(p, exif=exif.tobytes(), quality=95)
    out = load_image(p)
    assert out.shape[:2] == (40, 80)
    assert out[:, :30].mean() > 200 and out[:, 50:].mean() < 50


@pytest.mark.parametrize("content,why", [(b"", "empty file"), (b"not an image at all", "cannot decode")])
def test_unreadable_files_raise_a_one_line_error_naming_the_file(tmp_path, content, why):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError, match=why) as e:
        load_image(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_truncated_jpeg_is_an_error_or_a_partial_image_never_a_crash(tmp_path, reader):
    ok, buf = cv2.imencode(".jpg", gate_frame("1234567", 0, seed=7))
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.tobytes()[: len(buf) // 3])
    try:
        img = load_image(p)
    except ImageLoadError as e:
        assert str(p) in str(e)
    else:
        assert isinstance(reader.read(img), list)


def test_missing_file_and_zero_pixel_image_are_clear_errors(tmp_path, reader):
    with pytest.raises(ImageLoadError, match="no such file"):
        reader.read(tmp_path / "nope.jpg")
    with pytest.raises(ImageLoadError, match="no pixels"):
        reader.read(np.zeros((0, 10, 3), np.uint8))


def test_very_large_image_is_read_without_running_out_of_memory(reader):
    big = np.full((6000, 8000, 3), 90, np.uint8)
    small = gate_frame("80144268", 0, seed=8, width=300, size=(1280, 720))
    big[2000:2720, 3000:4280] = small
    reads = reader.read(big)
    assert isinstance(reads, list)


@pytest.mark.skipif(not DETECTOR_PT.exists(), reason="torch weights not shipped")
def test_torch_backend_finds_the_same_plate_as_onnx():
    from lpr import Reader

    img = gate_frame("92508501", 15, seed=10)
    onnx, torch_ = Reader(backend="onnx").read(img), Reader(backend="torch").read(img)
    assert onnx and torch_
    assert onnx[0].text == torch_[0].text == "92508501"
    width = np.linalg.norm(onnx[0].corners[1] - onnx[0].corners[0])
    # same resize, same network: the corners agree to a pixel or two, whatever the export did
    assert np.abs(onnx[0].corners - torch_[0].corners).max() < 0.01 * width


def _png(width: int, height: int, comment: bytes = b"") -> bytes:
    """A PNG of width x height black grey pixels, compressed row by row (a few hundred KB), with an optional
    zTXt comment that inflates to ``comment``."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    rows = b"".join(z.compress(b"\x00" * (1 + width)) for _ in range(height)) + z.flush()
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    text = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(comment, 9)) if comment else b""
    return head + text + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize("content", [
    _png(12000, 12000, comment=b"A" * 2_000_000),  # a comment Pillow will not read hid the size from the check
    b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 40000 +X 40000\n",  # a format Pillow does not know: OpenCV raised
])
def test_an_image_whose_size_cannot_be_checked_first_is_refused_not_decoded(tmp_path, content):
    path = tmp_path / "cam.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match="cam.jpg: cannot decode image"):
        load_image(path)


def test_a_file_far_larger_than_its_image_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "clip.jpg"
    ok, jpeg = cv2.imencode(".jpg", np.full((100, 200, 3), 128, np.uint8))
    with open(path, "wb") as f:  # a small JPEG's header, then 1 GB of whatever (sparse: no disk used)
        f.write(jpeg.tobytes())
        f.truncate(2**30)
    with pytest.raises(ImageLoadError, match="1024 MB, over the 64 MB a 200x100 image may take"):
        load_image(path)


def test_an_uncompressed_photo_larger_than_any_jpeg_still_loads(tmp_path):
    path = tmp_path / "big.bmp"
    cv2.imwrite(str(path), np.full((4000, 6000, 3), 90, np.uint8))  # 69 MB
    assert load_image(path).shape == (2731, 4096, 3)


def test_a_16_bit_photo_is_shrunk_before_it_is_converted_and_keeps_its_levels(tmp_path):
    path = tmp_path / "deep.png"
    img = np.full((5000, 600), 40000, np.uint16)
    cv2.imwrite(str(path), img)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (4096, 492, 3) and int(out[100, 100, 0]) == round(40000 / 257)
