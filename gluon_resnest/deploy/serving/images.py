"""One request body -> one HWC uint8 RGB image, or :class:`BadInput` with a one-line reason and an HTTP status.

The pixels come from the package's one decoder (:func:`~gluon_resnest.data.decoder.decode_image`), the one
training, ``scripts/verify.py`` and ``scripts/predict.py`` use, so a served image and the same file given to
``predict.py`` reach the classifier identically: EXIF orientation applied, truncated or corrupt data refused, the
size checked from the header before any pixel is decoded. Every error is raised here, before the image reaches
the classifier.
"""
from ...data.decoder import ImageLimits, UndecodableImage, decode_image as _decode

__all__ = ["BadInput", "ImageLimits", "decode_image"]

#: HTTP status of each :attr:`~gluon_resnest.data.decoder.UndecodableImage.problem` (400 otherwise).
_STATUS = {"format": 415, "too large": 413}


class BadInput(ValueError):
    """A request the classifier cannot answer; ``status`` is the HTTP status (4xx) to answer it with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def decode_image(data, limits):
    """``data`` (the request body, bytes) -> HWC uint8 RGB numpy image ``(H, W, 3)``, within ``limits``
    (:class:`ImageLimits`); :class:`BadInput` otherwise: 400 empty, truncated, corrupt or too small, 413 over a
    size limit, 415 not a JPEG, PNG or BMP image."""
    if not isinstance(data, (bytes, bytearray)):
        raise BadInput("request body must be the image file's bytes (sent as application/octet-stream, an "
                       "image/* type, or a multipart file field)", 415)
    if not data:
        raise BadInput("request body is empty: send the bytes of a JPEG, PNG or BMP file")
    if len(data) > limits.max_bytes:
        raise BadInput("request body is %d bytes, over the limit of %d" % (len(data), limits.max_bytes), 413)
    try:
        return _decode(data, limits)
    except UndecodableImage as err:
        raise BadInput(str(err), _STATUS.get(err.problem, 400)) from None
