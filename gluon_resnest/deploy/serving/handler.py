"""The MMS entry point of a gluon_resnest model archive: ``handle(data, context)``.

MMS calls ``handle(None, context)`` once when a worker loads the model, then ``handle(batch, context)`` with a
list of up to ``batch_size`` requests (``{parameter name: value}``; the body is ``"body"``, a multipart file its
field name, the query string's ``topk`` is ``"topk"``) and expects one answer per request, which
:meth:`~.service.ClassifierService.answer` gives whatever a request holds. A model that cannot be loaded (a file
whose sha1 differs from the export's manifest or from ``serving.json``'s record of it, a missing runtime) logs one
line saying why and raises, so MMS marks the worker failed instead of serving it.
"""
import logging

from .config import ServingConfig

__all__ = ["handle", "load"]

logger = logging.getLogger(__name__)
_loaded = {}


def load(model_dir, model_name):
    """The :class:`~.service.ClassifierService` of the archive unpacked at ``model_dir``."""
    from .service import ClassifierService

    try:
        service = ClassifierService(model_dir, ServingConfig.read(model_dir))
    except Exception as err:
        logger.error("resnest: model %s refuses to load: %s", model_name, str(err).strip().splitlines()[0])
        raise
    logger.info("resnest: model %s serves %s", model_name, service.describe())
    return service


def handle(data, context):
    """MMS's entry point: load on ``data is None``, else a list of JSON answers for the batch ``data``."""
    if data is None:
        _loaded["service"] = load(context.system_properties["model_dir"], context.model_name)
        return None
    return _loaded["service"].answer(data, context)
