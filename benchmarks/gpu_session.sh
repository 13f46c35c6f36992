#!/usr/bin/env bash
# Everything issue 9 needs a GPU for, in three parts that each fit one call of
# the device tool (10 minutes; its files come back from $OUT, at most 8).
# The device image has python3 with CuPy, PyTorch (CUDA), NumPy, SciPy,
# matplotlib, pytest, pytest-xdist and hypothesis, and no network, so minigrad
# runs from the checkout (PYTHONPATH) and Fashion-MNIST travels with it:
#
#   here, once:  mkdir -p .gpu_data/fashion-mnist && \
#                cp /usr/share/datasets/fashion-mnist/*.gz .gpu_data/fashion-mnist/ && \
#                echo /.gpu_data/ >> .git/info/exclude
#   device:      run(command="bash benchmarks/gpu_session.sh tests", carry=[".gpu_data"])
#                run(command="bash benchmarks/gpu_session.sh bench", carry=[".gpu_data"])
#                run(command="bash benchmarks/gpu_session.sh lenet", carry=[".gpu_data"])
#
#   tests  the suite with the real cupy parameter (lessons left out: NumPy-only
#          scripts, and jupytext is not on the image), the summary line in
#          $OUT/pytest_cupy.txt
#   bench  benchmarks/bench_gpu.py (MLP and LeNet-5 steps against torch CUDA)
#   lenet  the 100-epoch LeNet-5 biotorch runs of BP, FA, DFA, uSF, brSF and
#          frSF, all six at once (each is bound by Python, not by the GPU),
#          one JSON per rule written after every epoch, so a run cut short
#          keeps what it has
set -u
part=${1:?usage: gpu_session.sh tests|bench|lenet}
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD MINIGRAD_DATA=$PWD/.gpu_data MINIGRAD_NO_DOWNLOAD=1
py=python3
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$py -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, \
'numpy', numpy.__version__, 'gpu visible to cupy:', cupy.cuda.runtime.getDeviceCount())"

case $part in
tests)
    $py -m pytest -n 16 -p no:cacheprovider -o addopts="-m 'not slow'" -q -rs \
        --ignore=tests/lessons tests > "$OUT/pytest_cupy_full.txt" 2>&1
    echo "exit status $?" >> "$OUT/pytest_cupy_full.txt"
    grep -E "^(FAILED|ERROR)" "$OUT/pytest_cupy_full.txt" | head -200 > "$OUT/pytest_cupy_failures.txt"
    tail -5 "$OUT/pytest_cupy_full.txt" | tee "$OUT/pytest_cupy.txt"
    # keep the full log only if it is small enough to come back
    [ "$(stat -c %s "$OUT/pytest_cupy_full.txt")" -lt 15000000 ] || rm "$OUT/pytest_cupy_full.txt"
    ;;
bench)
    $py benchmarks/bench_gpu.py --out "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.txt"
    ;;
lenet)
    for rule in bp fa dfa usf brsf frsf; do
        $py benchmarks/rules_feedback.py --part lenet --backend cupy --epochs 100 \
            --rules "$rule" --out "$OUT/lenet_$rule.json" > "/tmp/lenet_$rule.log" 2>&1 &
    done
    wait
    cat /tmp/lenet_*.log > "$OUT/lenet.log"
    tail -n 3 /tmp/lenet_*.log
    ;;
*)
    echo "unknown part $part (tests, bench or lenet)" >&2
    exit 2
    ;;
esac
