"""The PyTorch reference at its strongest: its CPU configurations, each measured in a fresh interpreter.

A configuration (:data:`TORCH_CONFIGS`) combines channels-last memory format (model and input), ``torch.compile``
(inductor, static shapes: one graph per batch size; inference graphs frozen, ``torch._inductor.config.freezing``,
which folds the batch norms and prepacks the weights for oneDNN as PyTorch advises for CPU inference) and bf16
autocast (``torch.autocast("cpu", torch.bfloat16)``:
convolutions and matrix products in bf16, parameters and optimizer state in fp32). Every configuration runs the
same model (timm, else the official package; seeded weights) with ``torch.set_num_threads`` set to the OpenMP
threads of our rows (``OMP_NUM_THREADS``, as ``import gluon_resnest`` sets it):

- inference: eval mode under ``torch.inference_mode()``, at each batch size;
- training step: train mode, forward under the configuration's autocast, cross-entropy, backward and
  ``torch.optim.SGD(lr=1e-4, momentum=0.9, nesterov=True)``: the update ours makes with MXNet's ``nag``.

A compiled configuration's first call compiles (gcc builds inductor's C++ kernels, cached under
``TORCHINDUCTOR_CACHE_DIR``; frozen graphs bypass the cache); it is timed apart (``compile_s``, with
``compile_cache``: inductor's caches ``hit``, ``miss``, ``partial``, ``bypass`` or ``none``) and the warm-up and timed runs follow it. A
configuration that cannot run (no bf16 kernels in torch's oneDNN on this CPU, a compile error, a crash) gives rows
with ``error`` instead of a rate.
"""
import contextlib
import dataclasses
import time

__all__ = ["TorchConfig", "TORCH_CONFIGS", "reference_source", "torch_units", "unsupported", "failed_row",
           "config_rows"]


@dataclasses.dataclass(frozen=True)
class TorchConfig:
    """One PyTorch configuration: ``name`` (the benchmark's option value and the end of the rows' impl) and what
    it turns on."""
    name: str
    channels_last: bool = False
    compile: bool = False
    bf16: bool = False

    @property
    def precision(self):
        return "bf16" if self.bf16 else "fp32"

    def impl(self, source):
        """The rows' implementation name: ``timm-compile-cl-bf16`` for this configuration of the timm model."""
        return "%s-%s" % (source, self.name)


#: The configurations, by name, in the order they run.
TORCH_CONFIGS = {config.name: config for config in (
    TorchConfig("eager"),
    TorchConfig("cl", channels_last=True),
    TorchConfig("compile", compile=True),
    TorchConfig("compile-cl", channels_last=True, compile=True),
    TorchConfig("bf16", bf16=True),
    TorchConfig("cl-bf16", channels_last=True, bf16=True),
    TorchConfig("compile-bf16", compile=True, bf16=True),
    TorchConfig("compile-cl-bf16", channels_last=True, compile=True, bf16=True),
)}


def reference_source(name):
    """The package the PyTorch rows of ``name`` come from: ``"timm"`` when the catalogue names a timm model for
    it, else ``"official"``."""
    from gluon_resnest.interop.torch_convert import available_references

    return "timm" if "timm" in available_references(name) else "official"


def torch_units(precision):
    """What runs torch's ``precision`` kernels on this CPU: for fp32 ATen's CPU capability (``AVX512``), for bf16
    ``AMX``, ``AVX512_BF16``, ``AVX-512 (emulated)`` or ``none``."""
    import torch

    if precision == "fp32":
        return torch.backends.cpu.get_cpu_capability()
    cpu = torch.cpu
    for check, units in (("_is_amx_tile_supported", "AMX"), ("_is_avx512_bf16_supported", "AVX512_BF16"),
                         ("_is_avx512_supported", "AVX-512 (emulated)")):
        if getattr(cpu, check, lambda: False)():
            return units
    return "none"


def unsupported(config):
    """Why ``config`` cannot run on this CPU, or None."""
    import torch

    if config.bf16 and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "torch's oneDNN has no bf16 kernels on this CPU (needs AVX-512)"
    return None


def failed_row(impl, mode, batch, size, reason, **fields):
    """A row for a measurement that did not run: ``img_per_s`` None and ``error`` ``reason`` (its first line)."""
    lines = str(reason).strip().splitlines() or ["failed"]
    return dict(fields, impl=impl, mode=mode, batch=batch, size=size, img_per_s=None, latency_ms=None,
                peak_rss_mb=None, error=lines[0][:300])


_CACHE_EVENTS = ("cache_hit", "cache_miss", "cache_bypass")


def _cache_counts():
    """Inductor's and AOTAutograd's cache hits and misses so far in this process."""
    from torch._dynamo.utils import counters

    return {key: sum(value for group in ("inductor", "aot_autograd") for name, value in counters[group].items()
                     if name.endswith(key)) for key in _CACHE_EVENTS}


def _model(name, source, config, train):
    """The reference model (seeded weights) in ``config``'s memory format and mode, compiled if it asks."""
    import torch

    from gluon_resnest.interop.torch_convert import reference_model

    torch.manual_seed(0)
    model = reference_model(name, source)
    model.train(train)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, (torch.compile(model, dynamic=False) if config.compile else model)


def _input(config, batch, size):
    import torch

    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    return x.contiguous(memory_format=torch.channels_last) if config.channels_last else x


def _autocast(config):
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16) if config.bf16 else contextlib.nullcontext()


def _measured(run, impl, mode, batch, size, warmup, repeat, config, fields):
    """The row of ``run()`` (one batch): its first call timed apart for a compiled ``config``, then the median of
    ``repeat`` after ``warmup``; a failed row with the exception's text if it raises."""
    from .measure import median_seconds, result_row

    try:
        before, tic = _cache_counts(), time.perf_counter()
        run()
        first = time.perf_counter() - tic
        row = dict(result_row(impl, mode, batch, size, median_seconds(run, warmup, repeat), config.precision),
                   **fields)
    except Exception as err:  # a configuration that cannot run is reported, not raised
        return failed_row(impl, mode, batch, size, "%s: %s" % (type(err).__name__, err), **fields)
    if config.compile:
        after = _cache_counts()
        hits, misses, bypasses = (after[k] - before[k] for k in _CACHE_EVENTS)
        row.update(compile_s=first, compile_cache="bypass" if bypasses else "partial" if hits and misses else
                   "hit" if hits else "miss" if misses else "none")
    return row


def config_rows(name, config, batches, size, warmup, repeat, train_batch):
    """The rows of ``config`` (a :class:`TorchConfig`) for the reference of ``name``: inference at each of
    ``batches`` and, with ``train_batch``, a training step; each with ``precision``, ``framework`` ``"pytorch"``,
    ``source``, ``config``, ``threads`` and ``units`` (:func:`torch_units`)."""
    import torch

    from gluon_resnest.utils.threads import available_cpus, configure_threads

    threads = int(configure_threads() or available_cpus())
    torch.set_num_threads(threads)
    source = reference_source(name)
    impl = config.impl(source)
    fields = dict(framework="pytorch", source=source, config=config.name, threads=threads,
                  precision=config.precision, units=torch_units(config.precision),
                  torch_version=torch.__version__)
    runs = [("inference", batch) for batch in batches] + ([("train", train_batch)] if train_batch else [])
    reason = unsupported(config)
    if reason:
        return [failed_row(impl, mode, batch, size, reason, **fields) for mode, batch in runs]
    if config.compile:
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, len(batches) + 1)
    rows = []
    _, forward = _model(name, source, config, train=False)
    for batch in batches:
        x = _input(config, batch, size)

        def infer():
            with torch.inference_mode(), _autocast(config), torch._inductor.config.patch(freezing=True):
                forward(x)

        rows.append(_measured(infer, impl, "inference", batch, size, warmup, repeat, config, fields))
    if train_batch:
        model, forward = _model(name, source, config, train=True)
        x, y = _input(config, train_batch, size), torch.arange(train_batch) % 1000
        loss_fn = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, nesterov=True)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with _autocast(config):
                loss = loss_fn(forward(x), y)
            loss.backward()
            optimizer.step()

        rows.append(_measured(step, impl, "train", train_batch, size, warmup, repeat, config, fields))
    return rows
