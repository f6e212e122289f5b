"""Serving an export over HTTP with Multi Model Server (MMS).

:mod:`.archive` packages an export as a model archive (``.mar``), :mod:`.handler` is the archive's MMS entry point
and :mod:`.service` its request handling on :class:`~gluon_resnest.deploy.classifier.ExportedClassifier`,
:mod:`.images` decodes and checks request bodies, :mod:`.config` is the archive's ``serving.json``, :mod:`.mms`
starts and stops a server. ``scripts/serve.py`` is the command line. Only :mod:`.handler` and what it imports run
inside the server; the others need ``model-archiver`` or MMS installed (``scripts/setup_env.sh --with-serving``).
"""
