"""The machine's limits: what MXNet's oneDNN kernels reach on this CPU at fp32, bf16 and int8, in GFLOP/s.

    python -m tools.benchmark.ceiling --kernels JSON --warmup 2 --repeat 5     (the child :func:`measure_ceiling` runs)

Each kernel is one small graph of the kind MXNet runs at its precision: a convolution + ReLU (resnest50's
convolutions at batch 8) or an inner product (a square GEMM), oneDNN-fused in fp32, converted by MXNet's AMP and
oneDNN-fused in bf16 (:func:`gluon_resnest.deploy.export.to_bfloat16`), quantized by ``quantize_net`` (naive
calibration, unsigned input) in int8.
It is timed twice over the same ``repeat`` runs after ``warmup`` untimed ones: as a whole graph (``gflops``, the
median; layout reorders, casts and quantization included) and by oneDNN's own time for its convolution or inner
product (``kernel_gflops``, from ``DNNL_VERBOSE``, with ``implementations``, the kernels oneDNN ran, whose names
carry the ISA: ``brgconv:avx512_core_amx_bf16``). ``limit_gflops`` is the kernel rate where oneDNN reported one,
else the graph rate: the figure :mod:`tools.benchmark.precisions` takes as the machine's limit.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys

from ..interpreters import tools_env

__all__ = ["CHILD_TIMEOUT_S", "PRIMITIVE_DTYPES", "kernel_specs", "ceiling_rows", "kernel_times", "measure_ceiling",
           "main"]

#: Seconds the child may take before :func:`measure_ceiling` gives up on it.
CHILD_TIMEOUT_S = 1800
#: oneDNN's source data types that count as each precision's kernel.
PRIMITIVE_DTYPES = {"fp32": ("f32",), "bf16": ("bf16",), "int8": ("u8", "s8")}
_PRIMITIVES = {"conv": "convolution", "gemm": "inner_product"}


def kernel_specs(gemm_size, convs, precisions=("fp32", "bf16", "int8")):
    """The kernels to time: ``{"precision", "op", "shape", "kernel", "flop"}`` for a ``gemm_size``^3 GEMM and each
    of ``convs`` (``(batch, in_channels, out_channels, size, kernel, groups)``, padded to keep the size) at each of
    ``precisions``."""
    shapes = [("gemm", (gemm_size,), "gemm %d^3" % gemm_size, 2 * gemm_size ** 3)]
    for batch, cin, cout, size, kernel, groups in convs:
        shapes.append(("conv", (batch, cin, cout, size, kernel, groups), "conv %dx%d %d->%d groups %d, %dx%d, batch %d"
                       % (kernel, kernel, cin, cout, groups, size, size, batch),
                       2 * batch * cout * size * size * (cin // groups) * kernel * kernel))
    return [{"precision": precision, "op": op, "shape": list(shape), "kernel": text, "flop": flop}
            for precision in precisions for op, shape, text, flop in shapes]


def _graph(op, shape):
    """The fp32 graph of a kernel (a ``SymbolBlock``) and its input."""
    import mxnet as mx

    data = mx.sym.var("data", dtype="float32")
    if op == "gemm":
        n = shape[0]
        out, x = mx.sym.FullyConnected(data, num_hidden=n, no_bias=True), mx.nd.random.uniform(shape=(n, n))
    else:
        batch, cin, cout, size, kernel, groups = shape
        conv = mx.sym.Convolution(data, num_filter=cout, kernel=(kernel, kernel), pad=(kernel // 2, kernel // 2),
                                  num_group=groups, no_bias=True)
        out, x = mx.sym.Activation(conv, act_type="relu"), mx.nd.random.uniform(shape=(batch, cin, size, size))
    block = mx.gluon.SymbolBlock(out, [data])
    block.initialize(mx.init.Xavier())
    return block, x


def _at_precision(block, x, precision):
    """``block`` as MXNet runs it at ``precision`` for input ``x`` (see the module docstring)."""
    import mxnet as mx

    if precision == "fp32":
        block.optimize_for(x, backend="MKLDNN", static_alloc=True, static_shape=True)
        return block
    block.hybridize(static_alloc=True, static_shape=True)
    block(x).wait_to_read()
    if precision == "bf16":
        from gluon_resnest.deploy.export import to_bfloat16

        return to_bfloat16(block, x, cast_optional_params=False)
    from mxnet.contrib.quantization import quantize_net

    calib = mx.io.NDArrayIter(x, batch_size=x.shape[0])
    converted = quantize_net(block, quantized_dtype="auto", calib_data=calib, calib_mode="naive",
                             num_calib_examples=x.shape[0], ctx=mx.cpu())
    converted.hybridize(static_alloc=True, static_shape=True)
    return converted


def ceiling_rows(specs, warmup=2, repeat=5, mark=None):
    """Time each of ``specs`` (:func:`kernel_specs`) as a graph: its spec with ``gflops`` (the median run), or with
    ``error`` (MXNet's reason, one line) when MXNet cannot run it at its precision on this CPU. ``mark(i)`` is
    called before the timed runs of the i-th spec and ``mark(None)`` after them."""
    import time

    import mxnet as mx
    import numpy as np

    from gluon_resnest.utils.errors import mxnet_reason

    rows = []
    for index, spec in enumerate(specs):
        row = dict(spec)
        try:
            block, x = _graph(spec["op"], spec["shape"])
            net = _at_precision(block, x, spec["precision"])
            for _ in range(warmup + 1):
                net(x).wait_to_read()
            times = []
            if mark:
                mark(index)
            for _ in range(repeat):
                tic = time.perf_counter()
                net(x).wait_to_read()
                times.append(time.perf_counter() - tic)
            if mark:
                mark(None)
            row["gflops"] = spec["flop"] / float(np.median(times)) / 1e9
        except mx.base.MXNetError as err:
            row["error"] = mxnet_reason(err)
        rows.append(row)
    return rows


def kernel_times(stdout, specs):
    """``{index: (milliseconds, implementations)}`` from a child's output: for the spec ``index``, oneDNN's
    execution times (``DNNL_VERBOSE`` lines between the child's ``KERNEL index`` and ``END`` markers) of the
    primitives of its op whose source data type is its precision, and the sorted names of their implementations."""
    found, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("KERNEL "):
            current = int(line.split()[1])
            found[current] = ([], set())
            continue
        if line == "END":
            current = None
            continue
        fields = line.split(",")
        if current is None or fields[:2] != ["dnnl_verbose", "exec"] or len(fields) < 8:
            continue
        spec = specs[current]
        source = next((md.split("::")[0][4:] for md in fields[6].split() if md.startswith("src_")), "")
        if fields[3] == _PRIMITIVES[spec["op"]] and source in PRIMITIVE_DTYPES[spec["precision"]]:
            found[current][0].append(float(fields[-1]))
            found[current][1].add(fields[4])
    return {index: (ms, sorted(impls)) for index, (ms, impls) in found.items()}


def _with_kernel_times(rows, times, repeat):
    """``rows`` with ``kernel_gflops`` (the median execution, or the mean per run when oneDNN ran several of the
    primitives per run), ``implementations`` and ``limit_gflops``."""
    import numpy as np

    for index, row in enumerate(rows):
        ms, impls = times.get(index, ([], []))
        if ms and "gflops" in row:
            seconds = float(np.median(ms)) / 1e3 if len(ms) == repeat else sum(ms) / repeat / 1e3
            row.update(kernel_gflops=row["flop"] / seconds / 1e9, implementations=impls)
        if "gflops" in row:
            row["limit_gflops"] = row.get("kernel_gflops") or row["gflops"]
    return rows


def measure_ceiling(gemm_size, convs, warmup=2, repeat=5):
    """The rows of :func:`ceiling_rows` for :func:`kernel_specs` ``(gemm_size, convs)``, measured in a child
    interpreter with ``DNNL_VERBOSE=1`` and completed with each kernel's oneDNN time (:func:`kernel_times`); an
    empty list with a note on stderr when the child fails."""
    specs = kernel_specs(gemm_size, convs)
    command = [sys.executable, "-m", "tools.benchmark.ceiling", "--kernels", json.dumps(specs), "--warmup",
               str(warmup), "--repeat", str(repeat)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=tools_env(dict(
            os.environ, DNNL_VERBOSE="1")), timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sys.stderr.write("benchmark: the ceiling measurement took over %d s; no limits\n" % CHILD_TIMEOUT_S)
        return []
    rows = next((json.loads(line[5:]) for line in result.stdout.splitlines() if line.startswith("ROWS ")), None)
    if rows is None:
        sys.stderr.write("benchmark: the ceiling measurement failed:\n%s\n" % result.stderr[-2000:])
        return []
    return _with_kernel_times(rows, kernel_times(result.stdout, specs), repeat)


def _flush_native_stdout():
    """Write out what oneDNN (C's stdio) buffered, so that a marker printed next follows it."""
    sys.stdout.flush()
    ctypes.CDLL(None).fflush(None)


def main(argv=None):
    import gluon_resnest  # noqa: F401  (first: MXNet's CPU runtime)

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernels", required=True, help="JSON list of kernel_specs()")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    def marker(index):
        _flush_native_stdout()
        print("END" if index is None else "KERNEL %d" % index, flush=True)

    rows = ceiling_rows(json.loads(args.kernels), args.warmup, args.repeat, marker)
    _flush_native_stdout()
    print("ROWS " + json.dumps(rows), flush=True)


if __name__ == "__main__":
    main()
