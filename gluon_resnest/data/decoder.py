"""The package's one image decoder: encoded bytes (JPEG, PNG, BMP) -> HWC uint8 image with three channels.

Training, validation, ``scripts/verify.py``, INT8 calibration, ``scripts/predict.py`` (files and ``--rec``) and
serving all call :func:`decode_image`, so one file gets the same pixels, the same orientation and the same verdict
on every path.

* **Libraries.** JPEG is decoded by libjpeg-turbo through simplejpeg with the accurate integer IDCT and smooth
  chroma upsampling (the pixels of OpenCV's ``imdecode``); PNG and BMP by OpenCV's ``imdecode``. Grey is repeated
  on three channels, CMYK converted, an alpha channel dropped, 16-bit samples keep their high byte.
* **Orientation.** The EXIF orientation is applied, as photo viewers do: a JPEG's APP1 Exif block (read here) and
  a PNG's ``eXIf`` chunk (read by OpenCV). A missing or unreadable orientation leaves the image as stored.
* **Integrity.** Truncated or corrupt data is refused, never filled in: libjpeg's warnings are errors (a
  premature end of file, a bad Huffman code, a marker inside the scan, extraneous bytes), and so are a PNG with a
  cut chunk or without ``IEND``, libpng's errors (a CRC mismatch) and a BMP shorter than its header says. The
  exceptions are libjpeg's warnings about a nonconforming header of a whole file (:data:`JPEG_HEADER_WARNINGS`):
  such a file is decoded without the check. JPEG has no checksum: damage that libjpeg decodes without a warning
  cannot be seen by any decoder.
* **Bounds.** Width and height are read from the header and checked against :class:`ImageLimits` (the
  decompression-bomb cap ``max_pixels`` and ``min_side``) before any pixel is decoded.

Every refusal is :class:`UndecodableImage`, raised by :func:`decode_image` itself (nothing is decoded lazily);
its one-line message says why without naming the source, which callers add (a file, a record, a request).
"""
import dataclasses
import struct

import cv2
import numpy as np
import simplejpeg

from ..utils.options import Range, check_settings, option

__all__ = ["decode_image", "image_size", "ImageLimits", "UndecodableImage", "FORMATS", "PROBLEMS",
           "JPEG_HEADER_WARNINGS"]

#: The formats decoded.
FORMATS = ("JPEG", "PNG", "BMP")
#: The first bytes of each format decoded.
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"))
#: Formats recognised by their first bytes in order to name them when they are refused.
_OTHER_FORMATS = ((b"GIF8", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
#: :attr:`UndecodableImage.problem` values.
PROBLEMS = ("format", "corrupt", "too large", "too small")
#: libjpeg's warnings about a nonconforming header of a whole file; other warnings refuse the file.
JPEG_HEADER_WARNINGS = ("Warning: unknown JFIF revision number", "Invalid SOS parameters for sequential JPEG",
                        "Unknown Adobe color transform code")
#: EXIF orientation -> (transpose first, then ``cv2.flip`` code or None), as OpenCV applies it.
_ORIENTATIONS = {2: (False, 1), 3: (False, -1), 4: (False, 0), 5: (True, None), 6: (True, 1), 7: (True, -1),
                 8: (True, 0)}


class UndecodableImage(ValueError):
    """Bytes that are not a readable JPEG, PNG or BMP within the :class:`ImageLimits`: ``problem`` is one of
    :data:`PROBLEMS` ("format": not one of :data:`FORMATS`; "corrupt": truncated or damaged; "too large" or
    "too small": outside the limits)."""

    def __init__(self, message, problem):
        super().__init__(message)
        self.problem = problem


@dataclasses.dataclass(frozen=True)
class ImageLimits:
    """Bounds on one image: ``max_pixels`` (width x height, the decompression-bomb cap) and ``min_side`` px, which
    :func:`decode_image` checks from the header for every caller, and ``max_bytes`` of encoded data, which serving
    checks on a request's body (``scripts/serve.py package``'s options, kept in the archive's ``serving.json``);
    :class:`~gluon_resnest.utils.errors.OptionError` naming the option out of its range."""
    max_bytes: int = option(16 << 20, "largest request body accepted, bytes (413 above)", bounds=Range(1, 1 << 29))
    max_pixels: int = option(50_000_000, "largest image, width x height, checked from the header before decoding "
                                         "(413 above)", bounds=Range(1))
    min_side: int = option(16, "smallest image side, px (400 below)", bounds=Range(1))

    def __post_init__(self):
        check_settings(self)


_DEFAULT_LIMITS = ImageLimits()


def _format(data):
    """The name of ``data``'s format; :class:`UndecodableImage` ("format") for anything but :data:`FORMATS`."""
    found = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    if found:
        return found
    other = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
    if other:
        raise UndecodableImage("%s images are not decoded; give a JPEG, PNG or BMP file" % other, "format")
    if not data:
        raise UndecodableImage("no data (0 bytes)", "corrupt")
    raise UndecodableImage("data (%d bytes) is not a JPEG, PNG or BMP image" % len(data), "format")


def _corrupt(fmt, reason):
    return UndecodableImage("%s data is truncated or corrupt (%s)" % (fmt, reason.strip().splitlines()[0]),
                            "corrupt")


def image_size(data):
    """``(format, width, height)`` of encoded ``data`` from its header alone; :class:`UndecodableImage` for data
    that is not one of :data:`FORMATS` or whose header is cut or malformed."""
    fmt = _format(data)
    try:
        if fmt == "JPEG":
            height, width = simplejpeg.decode_jpeg_header(data)[:2]
        elif fmt == "PNG":
            if data[12:16] != b"IHDR":
                raise ValueError("no IHDR chunk first")
            width, height = struct.unpack(">II", data[16:24])
        else:
            header = struct.unpack("<I", data[14:18])[0]
            width, height = struct.unpack("<HH" if header == 12 else "<ii", data[18:22 if header == 12 else 26])
            height = abs(height)  # negative: rows stored top-down
    except (ValueError, struct.error) as err:
        raise _corrupt(fmt, str(err) or "header cut short") from None
    if width < 1 or height < 1:
        raise _corrupt(fmt, "the header gives %dx%d pixels" % (width, height))
    return fmt, width, height


def _check_whole(fmt, data):
    """:class:`UndecodableImage` ("corrupt") for a PNG whose chunks are cut or end without ``IEND``, or a BMP
    shorter than its header's file size (checked here, so that OpenCV is not given them)."""
    if fmt == "PNG":
        pos = 8
        while pos + 12 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            pos += 12 + length
            if kind == b"IEND":
                break
        else:
            raise _corrupt(fmt, "it ends without its IEND chunk")
        if pos > len(data):
            raise _corrupt(fmt, "its last chunk is cut")
    elif fmt == "BMP":
        size = struct.unpack("<I", data[2:6])[0]
        if len(data) < size:
            raise _corrupt(fmt, "%d of its %d bytes" % (len(data), size))


def _check_size(width, height, limits):
    if width * height > limits.max_pixels:
        raise UndecodableImage("image is %dx%d = %d pixels, over the limit of %d (too large to decode)"
                               % (width, height, width * height, limits.max_pixels), "too large")
    if min(width, height) < limits.min_side:
        raise UndecodableImage("image is %dx%d; its smaller side must be at least %d px"
                               % (width, height, limits.min_side), "too small")


def _exif_orientation(data):
    """The EXIF orientation (1-8) of JPEG ``data``: tag 0x0112 of the first APP1 Exif block's IFD0; 1 when there
    is none or it cannot be read."""
    pos = 2
    try:
        while data[pos] == 0xFF:
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in (0xDA, 0xD9):  # start of scan, end of image: no metadata follows
                return 1
            length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
            if marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00":
                tiff = pos + 10
                order = {b"II": "<", b"MM": ">"}[data[tiff:tiff + 2]]
                ifd = tiff + struct.unpack(order + "I", data[tiff + 4:tiff + 8])[0]
                for entry in range(struct.unpack(order + "H", data[ifd:ifd + 2])[0]):
                    tag, kind = struct.unpack(order + "HH", data[ifd + 2 + 12 * entry:ifd + 6 + 12 * entry])
                    if tag == 0x0112 and kind == 3:
                        value = struct.unpack(order + "H", data[ifd + 10 + 12 * entry:ifd + 12 + 12 * entry])[0]
                        return value if value in _ORIENTATIONS else 1
                return 1
            pos += 2 + length
    except (IndexError, KeyError, struct.error):
        pass
    return 1


def _orient(img, orientation):
    """``img`` as a viewer shows it for EXIF ``orientation`` (transpose, then flip, as OpenCV does)."""
    if orientation not in _ORIENTATIONS:
        return img
    transpose, flip = _ORIENTATIONS[orientation]
    if transpose:
        img = cv2.transpose(img)
    return img if flip is None else cv2.flip(img, flip)


def _decode_jpeg(data, colorspace):
    """The pixels of JPEG ``data``; libjpeg's warnings are errors but for :data:`JPEG_HEADER_WARNINGS`."""
    try:
        return simplejpeg.decode_jpeg(data, colorspace, strict=True)
    except ValueError as err:
        if not str(err).startswith(JPEG_HEADER_WARNINGS):
            raise _corrupt("JPEG", str(err)) from None
    try:
        return simplejpeg.decode_jpeg(data, colorspace, strict=False)
    except ValueError as err:
        raise _corrupt("JPEG", str(err)) from None


def decode_image(data, limits=None, bgr=False):
    """``data`` (encoded bytes) -> HWC uint8 ``(H, W, 3)`` numpy image, RGB (or with ``bgr`` BGR), upright by its
    EXIF orientation, within ``limits`` (:class:`ImageLimits`; its defaults when ``None``).

    :class:`UndecodableImage` for anything else: not a JPEG, PNG or BMP, a cut or malformed header, truncated or
    corrupt data, a size outside the limits.
    """
    limits = limits or _DEFAULT_LIMITS
    data = bytes(data)
    fmt, width, height = image_size(data)
    _check_size(width, height, limits)
    if fmt == "JPEG":
        img = _orient(_decode_jpeg(data, "BGR" if bgr else "RGB"), _exif_orientation(data))
    else:
        _check_whole(fmt, data)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise _corrupt(fmt, "OpenCV cannot decode it")
        if not bgr:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.ndim != 3 or img.shape[2] != 3 or sorted(img.shape[:2]) != sorted((height, width)):
        raise _corrupt(fmt, "decoded to shape %s, the header says %dx%d" % (img.shape, width, height))
    return img
