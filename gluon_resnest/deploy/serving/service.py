"""One loaded export answering MMS request batches: image bytes in, top-k ``{class name: probability}`` out.

Loading, the sha1 check of the export's files and the preprocessing are :class:`ExportedClassifier`'s (the same
as ``scripts/predict.py``); decoding and input checks are :func:`~.images.decode_image`'s. Every request of a batch
is answered on its own: whatever fails while one request's image is read, decoded or preprocessed (a
:class:`~.images.BadInput`, an error MXNet raises only when the pixels are used, anything else) becomes that
request's 4xx (5xx for an unexpected error) and the others are classified as usual; a failed forward pass of the
batch is retried per request. :meth:`ClassifierService.answer` never raises: MMS 1.1 answers a handler's exception
with one error for the whole batch and, for a batch of more than one request, then restarts the worker.
"""
import http
import json
import logging
import os
import re

import mxnet as mx
import numpy as np

from ...utils.errors import mxnet_reason
from ...utils.publish import sha1_file
from ..classifier import ExportedClassifier, class_names_for, top_classes
from ..export_files import Export, ExportMismatchError, ExportMissing
from .config import CONFIG_NAME
from .images import BadInput, decode_image

__all__ = ["ClassifierService", "unique_names", "top_k", "error_body", "IMAGE_FIELDS", "BATCH_HEADER", "TOPK_HEADER",
           "FORM_TYPE"]

logger = logging.getLogger(__name__)

#: Request parameters tried, in order, for the image: the raw body, then common multipart field names.
IMAGE_FIELDS = ("body", "data", "file", "image")
#: The header that may carry ``topk`` (MMS passes no query string on ``/predictions/NAME``; it does on
#: ``/invocations?model_name=NAME&topk=K``, and a multipart field ``topk`` arrives as a parameter).
TOPK_HEADER = "X-Topk"
#: Response header naming how many requests MMS handed the worker together with this one (its batching at work).
BATCH_HEADER = "X-Batch-Size"
#: The content type of a form body (``curl --data-binary @FILE`` sends it unless told otherwise), which MMS's
#: frontend parses into form fields before the handler sees it.
FORM_TYPE = "application/x-www-form-urlencoded"
JSON = "application/json"


def unique_names(names):
    """``names`` with each repeated name suffixed ``" (class I)"`` (ImageNet names "crane" twice), so that they can
    be the keys of one answer."""
    seen = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [name if seen[name] == 1 else "%s (class %d)" % (name, i) for i, name in enumerate(names)]


def top_k(logits, names, k):
    """``{name: probability}`` of the ``k`` most probable classes of one ``(classes,)`` logit row, most probable
    first (softmax in float64)."""
    order, prob = top_classes(logits, k)
    return {names[i]: float(prob[i]) for i in order}


def error_body(status, message):
    """The JSON text of an error answer."""
    return json.dumps({"code": status, "error": message})


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _header(headers, name):
    """The value of header ``name`` (any case) in ``headers``, or ``None``."""
    return next((value for key, value in (headers or {}).items()
                 if isinstance(key, str) and key.lower() == name.lower()), None)


def _check_manifest(model_path, meta_sha1):
    """``ExportMismatchError`` unless the export manifest of ``model_path`` has the sha1 ``serving.json`` recorded
    when the archive was packaged (the manifest lists every other file's sha1 and holds the class names)."""
    try:
        path = Export.open(model_path, verify=False).meta_path
    except ExportMissing:
        return
    if meta_sha1 is None:
        raise ExportMismatchError("%s records no sha1 of %s: package the export again with scripts/serve.py "
                                  "package" % (CONFIG_NAME, os.path.basename(path)))
    if sha1_file(path) != meta_sha1:
        raise ExportMismatchError("%s does not match the sha1 recorded in %s: the archive's manifest (class names, "
                                  "file list) was changed after packaging; package the export again"
                                  % (path, CONFIG_NAME))


class ClassifierService:
    """``config`` (:class:`~.config.ServingConfig`) served from the folder ``model_dir`` (an unpacked archive, or
    the export's own folder while it is packaged): checks the export's manifest against ``config.meta_sha1``, loads
    the export (raises :class:`~gluon_resnest.deploy.export_files.ExportMismatchError` for files whose sha1 differs from
    the manifest) and runs one forward pass so that the first request does not pay for the graph's set-up."""

    def __init__(self, model_dir, config):
        self.config = config
        _check_manifest(config.model_path(model_dir), config.meta_sha1)
        self.classifier = ExportedClassifier(config.model_path(model_dir), runtime=config.runtime,
                                             precision=config.precision)
        probe = mx.nd.full((64, 64, 3), 128, dtype="uint8")
        classes = self.classifier.batch_logits(np.stack([self.classifier.input(probe)])).shape[1]
        self.names = unique_names(class_names_for(self.classifier.meta, classes))

    def describe(self):
        """One line naming what is served and how."""
        return "%s (%d classes, runtime %s, OMP_NUM_THREADS %s, pid %d)" % (
            self.config.model, len(self.names), getattr(self.classifier, "runtime", "mxnet"),
            os.environ.get("OMP_NUM_THREADS", "unset"), os.getpid())

    def parse(self, request, headers=None):
        """``(export input, k)`` of one request (``{parameter name: value}`` as MMS passes it, and its
        ``headers``); :class:`BadInput` for a request that cannot be answered, whatever the decoder or the
        preprocessing raises for its image."""
        content_type = _header(headers, "Content-Type")
        if content_type and content_type.split(";")[0].strip().lower() == FORM_TYPE:
            raise BadInput("a form body (Content-Type %s, what curl --data-binary sends by default) is not served: "
                           "send the image file's bytes as application/octet-stream (curl -T IMAGE URL, or "
                           "--data-binary @IMAGE -H 'Content-Type: application/octet-stream')" % FORM_TYPE, 415)
        topk = request.get("topk")
        if topk is None:
            topk = _header(headers, TOPK_HEADER)
        k = self.parse_topk(topk)
        image = next((request[field] for field in IMAGE_FIELDS if field in request), None)
        if image is None:
            others = [name for name in request if name != "topk"]
            if len(others) != 1:
                raise BadInput("no image in the request: send the file as the body (curl -T IMAGE URL) or as the "
                               "multipart field 'data'")
            image = request[others[0]]
        try:
            return self.classifier.input(decode_image(image, self.config.limits)), k
        except mx.base.MXNetError as err:
            raise BadInput("image data is truncated or corrupt (MXNet: %s)" % mxnet_reason(err)) from None

    def parse_topk(self, value):
        """``k`` from the request's ``topk`` parameter (the configured default when absent)."""
        if value is None:
            return min(self.config.topk, len(self.names))
        text = _text(value).strip()
        if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= len(self.names):
            raise BadInput("topk must be an integer from 1 to %d, got %r" % (len(self.names), text[:40]))
        return int(text)

    def _classify(self, inputs):
        """``{request index: top-k answer}`` of the parsed ``inputs`` (``(index, input, k)``) in one forward pass;
        when that fails, one pass per request, so that a failure stays with its request (``{index: exception}``
        for those)."""
        try:
            logits = self.classifier.batch_logits(np.stack([x for _, x, _ in inputs]))
            return {idx: top_k(row, self.names, k) for (idx, _, k), row in zip(inputs, logits)}
        except Exception as err:  # noqa: BLE001  (answered per request by the caller)
            if len(inputs) == 1:
                return {inputs[0][0]: err}
        out = {}
        for item in inputs:
            out.update(self._classify([item]))
        return out

    def answer(self, requests, context):
        """JSON answers (a list of ``str``, one per request of the batch) with their statuses set on ``context``;
        never raises."""
        results = [None] * len(requests)

        def fail(idx, status, message):
            context.set_response_status(status, http.HTTPStatus(status).phrase, idx)
            results[idx] = error_body(status, message)

        try:
            inputs = []
            for idx, request in enumerate(requests):
                context.set_response_content_type(idx, JSON)
                context.set_response_header(idx, BATCH_HEADER, str(len(requests)))
                try:
                    inputs.append((idx,) + self.parse(request, context.get_all_request_header(idx)))
                except BadInput as err:
                    logger.info("resnest: request %d of %d rejected (%d): %s", idx + 1, len(requests), err.status,
                                err)
                    fail(idx, err.status, str(err))
                except Exception as err:  # noqa: BLE001  (whatever the decoder raises stays with its request)
                    logger.exception("resnest: request %d of %d failed while its image was read", idx + 1,
                                     len(requests))
                    fail(idx, 500, "the image could not be read: %s" % _reason(err))
            for idx, result in (self._classify(inputs) if inputs else {}).items():
                if isinstance(result, Exception):
                    logger.error("resnest: request %d of %d failed in the forward pass: %s", idx + 1, len(requests),
                                 _reason(result))
                    fail(idx, 500, "classification failed: %s" % _reason(result))
                else:
                    results[idx] = json.dumps(result)
        except Exception as err:  # noqa: BLE001  (a raise would fail the whole batch and restart the worker)
            logger.exception("resnest: a batch of %d request(s) failed", len(requests))
            for idx in range(len(requests)):
                if results[idx] is None:
                    fail(idx, 500, "classification failed: %s" % _reason(err))
        return results


def _reason(err):
    """One line naming ``err``: MXNet's reason line, else the exception's type and first line."""
    if isinstance(err, mx.base.MXNetError):
        return "MXNet: %s" % mxnet_reason(err)
    lines = str(err).strip().splitlines()
    return "%s: %s" % (type(err).__name__, lines[0]) if lines else type(err).__name__
