"""Run as a script (``python -P import_order.py ORDER MODEL BATCH SIZE REPEAT WARMUP``), not imported: the inference
throughput of ``MODEL`` when ``mxnet`` is imported before gluon_resnest (``mxnet-first``, as GluonCV's scripts do)
or after it (``ours-first``), in a fresh interpreter without ``OMP_NUM_THREADS``. Prints one line ``ROWS <json>``."""
import json
import sys
import time

__all__ = ["main"]


def main(order, model, batch, size, repeat, warmup):
    if order == "mxnet-first":
        import mxnet  # noqa: F401
    import gluon_resnest
    import mxnet as mx
    from gluon_resnest.utils.threads import mxnet_omp_threads
    from tools.benchmark.measure import inference_row, random_net

    net = random_net(model)
    net.hybridize(static_alloc=True, static_shape=True)
    row = inference_row(order, net, int(batch), int(size), int(warmup), int(repeat))
    row.update(model=model, omp_threads=mxnet_omp_threads(), gluon_resnest=gluon_resnest.__version__,
               mxnet=mx.__version__, measured_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    print("ROWS " + json.dumps([row]))


if __name__ == "__main__":
    main(*sys.argv[1:7])
