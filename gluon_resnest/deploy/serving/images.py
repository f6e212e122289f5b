"""One request body -> one HWC uint8 RGB image, or :class:`BadInput` with a one-line reason and an HTTP status.

The pixels come from ``mx.image.imdecode``, the decoder ``scripts/predict.py`` reads files with, so a served image
and the same file given to ``predict.py`` reach the classifier identically. Before that, Pillow reads the header
(format, size) and decodes the image once in full, which rejects what ``imdecode`` would accept silently (a
truncated JPEG decodes to grey rows there) or should never be asked to decode (a 10000x10000 image).

Accepted: JPEG (also grey and CMYK), PNG (grey, palette, RGBA, 16 bits per channel), BMP; an alpha channel is
dropped, 16-bit samples keep their high byte, grey is repeated on three channels, as ``imdecode`` does. EXIF
orientation is not applied (neither does ``predict.py``).
"""
import dataclasses
import io
import warnings

import mxnet as mx

from ...utils.options import Range, check_settings, option

__all__ = ["BadInput", "ImageLimits", "FORMATS", "decode_image"]

#: Pillow's names of the formats served.
FORMATS = ("JPEG", "PNG", "BMP")
#: The first bytes of a file of each format served.
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"BM", "BMP"))


class BadInput(ValueError):
    """A request the classifier cannot answer; ``status`` is the HTTP status (4xx) to answer it with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class ImageLimits:
    """Bounds on one request (``scripts/serve.py package``'s options, kept in the archive's ``serving.json``);
    :class:`~gluon_resnest.utils.errors.OptionError` naming the option out of its range."""
    max_bytes: int = option(16 << 20, "largest request body accepted, bytes (413 above)", bounds=Range(1, 1 << 29))
    max_pixels: int = option(50_000_000, "largest image, width x height, checked from the header before decoding "
                                         "(413 above)", bounds=Range(1))
    min_side: int = option(16, "smallest image side, px (400 below)", bounds=Range(1))

    def __post_init__(self):
        check_settings(self)

    def as_dict(self):
        return dataclasses.asdict(self)


def _check_with_pillow(data, limits):
    """Read ``data``'s header in Pillow, check its format and size against ``limits``, then decode it in full:
    :class:`BadInput` for anything ``imdecode`` should not be given; returns ``(width, height)``."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as err:
            raise BadInput("image is too large to decode: %s" % err, 413) from None
        except (OSError, SyntaxError, ValueError) as err:
            fmt = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
            if fmt:
                raise BadInput("%s data is truncated or corrupt (%s)" % (fmt, str(err).splitlines()[0])) from None
            raise BadInput("request body (%d bytes) is not a JPEG, PNG or BMP image" % len(data), 415) from None
        with img:
            (width, height), fmt = img.size, img.format
            if fmt not in FORMATS:
                raise BadInput("%s images are not served; send JPEG, PNG or BMP" % fmt, 415)
            if width * height > limits.max_pixels:
                raise BadInput("image is %dx%d = %d pixels, over the limit of %d"
                               % (width, height, width * height, limits.max_pixels), 413)
            if min(width, height) < limits.min_side:
                raise BadInput("image is %dx%d; its smaller side must be at least %d px"
                               % (width, height, limits.min_side))
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as err:
                raise BadInput("image data is truncated or corrupt (%s)" % str(err).splitlines()[0]) from None
    return width, height


def decode_image(data, limits):
    """``data`` (the request body, bytes) -> HWC uint8 RGB ``mx.nd.NDArray`` ``(H, W, 3)``, within ``limits``
    (:class:`ImageLimits`); :class:`BadInput` otherwise: 400 empty, truncated or too small, 413 over a size
    limit, 415 not an image of :data:`FORMATS`."""
    if not isinstance(data, (bytes, bytearray)):
        raise BadInput("request body must be the image file's bytes (sent as application/octet-stream, an "
                       "image/* type, or a multipart file field)", 415)
    if not data:
        raise BadInput("request body is empty: send the bytes of a JPEG, PNG or BMP file")
    if len(data) > limits.max_bytes:
        raise BadInput("request body is %d bytes, over the limit of %d" % (len(data), limits.max_bytes), 413)
    data = bytes(data)
    width, height = _check_with_pillow(data, limits)
    try:
        img = mx.image.imdecode(data)
    except mx.base.MXNetError as err:
        raise BadInput("image could not be decoded (%s)" % str(err).strip().splitlines()[0]) from None
    if img.ndim != 3 or img.shape[:2] != (height, width) or img.shape[2] != 3:
        raise BadInput("image decoded to shape %s, not (%d, %d, 3)" % (img.shape, height, width))
    return img
