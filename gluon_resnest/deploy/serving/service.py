"""One loaded export answering MMS request batches: image bytes in, top-k ``{class name: probability}`` out.

Loading, the sha1 check of the export's files and the preprocessing are :class:`ExportedClassifier`'s (the same
as ``scripts/predict.py``); decoding and input checks are :func:`~.images.decode_image`'s. A bad request in a
batch gets its own 4xx JSON answer and the others are classified as usual.
"""
import http
import json
import logging
import os
import re

import mxnet as mx
import numpy as np

from ..classifier import ExportedClassifier, class_names_for, top_classes
from .images import BadInput, decode_image

__all__ = ["ClassifierService", "unique_names", "top_k", "error_body", "IMAGE_FIELDS", "BATCH_HEADER", "TOPK_HEADER"]

logger = logging.getLogger(__name__)

#: Request parameters tried, in order, for the image: the raw body, then common multipart field names.
IMAGE_FIELDS = ("body", "data", "file", "image")
#: The header that may carry ``topk`` (MMS passes no query string on ``/predictions/NAME``; it does on
#: ``/invocations?model_name=NAME&topk=K``, and a multipart field ``topk`` arrives as a parameter).
TOPK_HEADER = "X-Topk"
#: Response header naming how many requests MMS handed the worker together with this one (its batching at work).
BATCH_HEADER = "X-Batch-Size"
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


class ClassifierService:
    """``config`` (:class:`~.config.ServingConfig`) served from the archive folder ``model_dir``: loads the export
    (raises :class:`~gluon_resnest.deploy.export.ExportMismatchError` for files whose sha1 differs from the
    manifest) and runs one forward pass so that the first request does not pay for the graph's set-up."""

    def __init__(self, model_dir, config):
        self.config = config
        self.classifier = ExportedClassifier(config.model_path(model_dir), runtime=config.runtime,
                                             precision=config.precision)
        probe = mx.nd.full((64, 64, 3), 128, dtype="uint8")
        classes = self.classifier.batch_logits(np.stack([self.classifier.input(probe)])).shape[1]
        self.names = unique_names(class_names_for(self.classifier.meta, classes))

    def describe(self):
        """One line naming what is served and how."""
        return "%s (%d classes, runtime %s, OMP_NUM_THREADS %s)" % (
            self.config.model, len(self.names), getattr(self.classifier, "runtime", "mxnet"),
            os.environ.get("OMP_NUM_THREADS", "unset"))

    def parse(self, request, headers=None):
        """``(export input, k)`` of one request (``{parameter name: value}`` as MMS passes it, and its
        ``headers``); :class:`BadInput` for a request that cannot be answered."""
        topk = request.get("topk")
        if topk is None:
            topk = next((value for key, value in (headers or {}).items()
                         if isinstance(key, str) and key.lower() == TOPK_HEADER.lower()), None)
        k = self.parse_topk(topk)
        image = next((request[field] for field in IMAGE_FIELDS if field in request), None)
        if image is None:
            others = [name for name in request if name != "topk"]
            if len(others) != 1:
                raise BadInput("no image in the request: send the file as the body (curl -T IMAGE URL) or as the "
                               "multipart field 'data'")
            image = request[others[0]]
        return self.classifier.input(decode_image(image, self.config.limits)), k

    def parse_topk(self, value):
        """``k`` from the request's ``topk`` parameter (the configured default when absent)."""
        if value is None:
            return min(self.config.topk, len(self.names))
        text = _text(value).strip()
        if not re.fullmatch(r"[0-9]{1,9}", text) or not 1 <= int(text) <= len(self.names):
            raise BadInput("topk must be an integer from 1 to %d, got %r" % (len(self.names), text[:40]))
        return int(text)

    def answer(self, requests, context):
        """JSON answers (a list of ``str``, one per request of the batch) with their statuses set on ``context``."""
        inputs, results = [], [None] * len(requests)
        for idx, request in enumerate(requests):
            context.set_response_content_type(idx, JSON)
            context.set_response_header(idx, BATCH_HEADER, str(len(requests)))
            try:
                inputs.append((idx,) + self.parse(request, context.get_all_request_header(idx)))
            except BadInput as err:
                logger.info("resnest: request %d of %d rejected (%d): %s", idx + 1, len(requests), err.status, err)
                context.set_response_status(err.status, http.HTTPStatus(err.status).phrase, idx)
                results[idx] = error_body(err.status, str(err))
        if inputs:
            logits = self.classifier.batch_logits(np.stack([x for _, x, _ in inputs]))
            for (idx, _, k), row in zip(inputs, logits):
                results[idx] = json.dumps(top_k(row, self.names, k))
        return results
