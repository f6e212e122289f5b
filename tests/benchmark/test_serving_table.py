"""The serving benchmark's table and ratios (the measurement itself runs MMS: scripts/benchmark.py serving)."""
from tools.benchmark.serving import random_jpegs, serving_table


def test_serving_table_prints_the_two_ratios():
    base = {"images": 8, "p99_ms": 1.0}
    rows = [dict(base, mode="in-process", batch=1, img_per_s=10.0, p50_ms=100.0),
            dict(base, mode="in-process", batch=8, img_per_s=12.0, p50_ms=600.0),
            dict(base, mode="served", batch=1, img_per_s=9.0, p50_ms=110.0, batching="off", clients=1,
                 mean_batch=1.0),
            dict(base, mode="served", batch=8, img_per_s=9.6, p50_ms=700.0, batching="on", clients=8,
                 mean_batch=7.5)]
    text = serving_table(rows)
    assert "on, 8 client(s), mean batch 7.5" in text
    assert text.endswith("served p50 / in-process batch-1 p50: 1.10; served img/s with batching / in-process "
                         "batch-8 img/s: 0.80")
    jpegs = random_jpegs(2, 64, 48)
    assert len(jpegs) == 2 and all(data[:3] == b"\xff\xd8\xff" for data in jpegs)
