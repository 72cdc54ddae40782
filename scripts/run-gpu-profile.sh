#!/usr/bin/env bash
# Maintainer command for a machine with an NVIDIA GPU: the full profile on JAX, measured.
#   bash scripts/run-gpu-profile.sh [--jobs N]
# Builds the full profile with KERAS_BACKEND=jax (scripts/build-book.sh; its own cache in
# _build/profiles/full-jax/, so results/full/ is left alone), N pages at a time sharing the
# GPU (default: one per 2 CPU cores, at least 2), and writes results/gpu/ (commit it):
#   page-times.csv   each page's status and execution time (s)
#   <page>.csv       what each page measured (accuracies, epochs, seconds, device, versions)
#   device.txt       the GPU, the JAX devices, the versions, the CPU cores, the commit
#   build.log        the pages' and the build's logs
# Environment: its own virtual environment, .venv-gpu/ (COURSE_VENV to choose another, e.g.
# one made on a machine without internet from carried wheels): requirements.txt plus JAX
# with CUDA (JAX_PIP below). It stops with a message if JAX sees no GPU.
export COURSE_VENV="${COURSE_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv-gpu}"
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
JAX_PIP="${JAX_PIP:-jax[cuda12]==0.10.2}"

if ! nvidia-smi -L > /dev/null 2>&1; then
  echo "error: no NVIDIA GPU here (nvidia-smi -L failed). This command measures the full profile" >&2
  echo "       on a GPU; on a CPU use scripts/build-book.sh." >&2
  exit 2
fi
phase_start "environment (GPU)"
ensure_venv
if ! "$VENV/bin/python" -c 'import jax; assert jax.default_backend() == "gpu"' 2> /dev/null; then
  echo "Installing $JAX_PIP into $VENV"
  "$VENV/bin/python" -m pip install --quiet "$JAX_PIP"
fi
if ! "$VENV/bin/python" -c 'import jax; assert jax.default_backend() == "gpu"'; then
  echo "error: JAX sees no GPU ($("$VENV/bin/python" -c 'import jax; print(jax.devices())' 2>&1 | tail -1))." >&2
  echo "       This command measures the full profile on a GPU; on a CPU use scripts/build-book.sh." >&2
  exit 2
fi
phase_end

export KERAS_BACKEND=jax COURSE_PROFILE=full
# Several kernels share the one GPU: each takes memory as it needs it, not 75% up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
T0=$(date +%s)
status=0
bash "$REPO/scripts/build-book.sh" "$@" || status=$?
WALL=$(( $(date +%s) - T0 ))

cd "$REPO"
OUT=_build/profiles/full-jax
mkdir -p results/gpu
rm -f results/gpu/*.csv
cp _build/results/full-jax/*.csv results/gpu/ 2>/dev/null || true
cp "$OUT/page-times.csv" results/gpu/page-times.csv 2>/dev/null || true
cat "$OUT/pages.log" "$OUT/build.log" > results/gpu/build.log 2>/dev/null || true
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "build: exit $status, $WALL s wall time for the whole full profile (KERAS_BACKEND=jax)"
  echo "cpu cores: $(nproc)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    | sed 's/^/gpu: /' || echo "gpu: (nvidia-smi not found)"
  "$VENV/bin/python" -c 'import jax, keras; print("jax devices:", jax.devices()); print("versions: jax", jax.__version__, "| keras", keras.__version__)'
} > results/gpu/device.txt
cat results/gpu/device.txt
echo "Results in results/gpu/ (commit them); per-page times in results/gpu/page-times.csv."
exit "$status"
