"""benchmarks/count_launches.py counts what a GPU step launches (run as a
script: it patches the CuPy stand-in for good)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "count_launches.py"


def _counts(*args):
    done = subprocess.run([sys.executable, str(SCRIPT), "--batch", "8", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    models, current = {}, None
    for line in done.stdout.splitlines():
        head = re.match(r"(\w+), batch 8: (\d+) launches per SGD step", line)
        if head:
            current = models[head.group(1)] = {"total": int(head.group(2))}
        elif current is not None and line.strip():
            n, kind = line.split(maxsplit=1)
            current[kind] = int(n)
    return models


@pytest.fixture(scope="module")
def on_a_gpu():
    return _counts()


def test_the_counts_add_up_and_follow_the_networks(on_a_gpu):
    mlp, lenet = on_a_gpu["mlp"], on_a_gpu["lenet5"]
    for counts in (mlp, lenet):
        assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    # 3 linear layers: 3 forward GEMMs, 3 weight gradients, 2 input gradients
    assert mlp["ufunc matmul"] == 8
    assert mlp["cuda_kernels.sgd_update"] == 6            # one fused update per parameter
    # LeNet-5: im2col for 2 convolutions and 2 poolings, col2im for 3 backward passes
    assert lenet["cuda_kernels.im2col"] == 4 and lenet["cuda_kernels.col2im"] == 3
    assert lenet["cuda_kernels.sgd_update"] == 10
    assert "item assignment" not in lenet                  # no per-offset copies left


def test_the_array_code_path_is_counted_too(on_a_gpu):
    plain = _counts("--no-cuda-kernels", "--models", "lenet5")["lenet5"]
    assert not any(k.startswith("cuda_kernels") for k in plain)
    # the reference im2col/col2im loop over the kernel offsets: one assignment each
    assert plain["item assignment"] > 25
    assert plain["total"] > on_a_gpu["lenet5"]["total"]
