"""The machine's limits (tools/benchmark/ceiling.py): MXNet's oneDNN kernels at fp32, bf16 and int8, each with
oneDNN's own time and the implementation it ran, a kernel MXNet cannot run reported as a row, and the limits the
report takes from them."""
import pytest

import gluon_resnest
from tools.benchmark.ceiling import kernel_specs, kernel_times, measure_ceiling
from tools.benchmark.precisions import limits

RUNTIME = gluon_resnest.cpu_runtime()
TINY = dict(gemm_size=64, convs=((1, 16, 32, 8, 3, 2),))


def test_kernel_times_keep_each_kernels_own_primitives():
    specs = kernel_specs(**TINY)
    assert [(s["precision"], s["op"]) for s in specs] == [
        (p, op) for p in ("fp32", "bf16", "int8") for op in ("gemm", "conv")]
    assert specs[1]["flop"] == 2 * 1 * 32 * 8 * 8 * 8 * 9 and specs[0]["flop"] == 2 * 64 ** 3
    conv = "dnnl_verbose,exec,cpu,convolution,%s,forward_inference,src_%s::blocked:acdb:f0 wei_%s::blocked:a:f0,," \
           "alg:convolution_direct,mb1_g2ic16oc32_ih8oh8kh3,%s"
    out = "\n".join([
        conv % ("brgconv:avx512_core", "f32", "f32", "9.0"),  # warm-up of kernel 1, before its marker
        "KERNEL 1",
        "dnnl_verbose,exec,cpu,reorder,jit:uni,undef,src_f32::blocked:abcd:f0 dst_f32::blocked:acdb:f0,,,1x16,0.5",
        conv % ("brgconv:avx512_core", "f32", "f32", "0.25"),
        conv % ("brgconv:avx512_core", "f32", "f32", "0.5"),
        "END",
        conv % ("brgconv:avx512_core_bf16", "bf16", "bf16", "7.0"),  # the next kernel's warm-up
        "KERNEL 5",
        conv % ("gemm:jit", "f32", "f32", "3.0"),  # an fp32 convolution inside the int8 graph: not int8's
        conv % ("brgconv:avx512_core_vnni", "u8", "s8", "0.125"),
        "END",
    ])
    assert kernel_times(out, specs) == {1: ([0.25, 0.5], ["brgconv:avx512_core"]),
                                        5: ([0.125], ["brgconv:avx512_core_vnni"])}


def test_every_precision_runs_its_own_kernels():
    rows = measure_ceiling(warmup=1, repeat=2, **TINY)
    assert [(r["precision"], r["kernel"]) for r in rows] == [(s["precision"], s["kernel"]) for s in kernel_specs(**TINY)]
    by_kind = {(r["precision"], r["op"]): r for r in rows}
    for row in rows:
        if row["precision"] == "bf16" and RUNTIME.bf16 == "none":
            continue
        assert row["gflops"] > 0 and row["kernel_gflops"] > 0 and row["limit_gflops"] == row["kernel_gflops"]
        assert row["implementations"], row
    assert not any("bf16" in impl or "amx" in impl for impl in by_kind[("fp32", "conv")]["implementations"])
    if RUNTIME.native_bf16:
        assert all("bf16" in impl or "amx" in impl for impl in by_kind[("bf16", "conv")]["implementations"])
    if RUNTIME.int8 in ("AMX", "AVX512_VNNI"):
        assert all("vnni" in impl or "amx" in impl for impl in by_kind[("int8", "conv")]["implementations"])
    assert set(limits(rows)) == {"fp32", "int8"} | ({"bf16"} if RUNTIME.bf16 != "none" else set())


def test_a_precision_oneDNN_cannot_run_is_a_row_saying_why(monkeypatch):
    """oneDNN 2.4 has no bf16 kernels below AVX-512: capped at AVX2, the bf16 rows carry MXNet's reason and the
    limits have no bf16."""
    if "avx2" not in open("/proc/cpuinfo").read():
        pytest.skip("the CPU has no AVX2")
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    rows = measure_ceiling(warmup=0, repeat=1, **TINY)
    bf16 = [r for r in rows if r["precision"] == "bf16"]
    assert len(bf16) == 2 and all(r["error"] and "gflops" not in r and "limit_gflops" not in r for r in bf16)
    assert all(r["implementations"] for r in rows if r["precision"] != "bf16")
    assert any(impl.endswith("avx2") for r in rows if (r["precision"], r["op"]) == ("fp32", "conv")
               for impl in r["implementations"])
    assert set(limits(rows)) == {"fp32", "int8"}
