#!/usr/bin/env bash
# Maintainer check (not run in CI: about 15 min on 2 cores from an empty cache): does the
# course run on every Keras backend? Builds the quick profile with KERAS_BACKEND=tensorflow,
# jax and torch and runs each assignment's reference solution with its tests on each, then
# writes the table to results/backends.md (commit it). Extra arguments go to
# scripts/check_backends.py, e.g. --backends jax --solutions schedules.
#
# It uses its own virtual environment, .venv-backends/ (COURSE_VENV to choose another):
# requirements.txt plus the CPU builds of JAX and PyTorch pinned below. PyPI's Linux torch
# wheel is a CUDA build of several GB; set BACKENDS_PIP_ARGS="--extra-index-url
# https://download.pytorch.org/whl/cpu" to fetch the CPU build instead.
export COURSE_VENV="${COURSE_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv-backends}"
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
BACKEND_PINS=(jax==0.10.2 jaxlib==0.10.2 torch==2.13.0)

phase_start "environment (backends)"
ensure_venv
if ! "$VENV/bin/python" -c 'import jax, torch' 2> /dev/null; then
  echo "Installing ${BACKEND_PINS[*]} into $VENV"
  # shellcheck disable=SC2086  # BACKENDS_PIP_ARGS holds several words on purpose
  "$VENV/bin/python" -m pip install --quiet ${BACKENDS_PIP_ARGS:-} "${BACKEND_PINS[@]}"
fi
COURSE_PROFILE=quick course_environment
ensure_kernel_env
phase_end

cd "$REPO"
phase_start "backends"
status=0
"$VENV/bin/python" scripts/check_backends.py "$@" || status=$?
phase_end
printf '  %s\n' "${PHASE_TIMES[@]}"
exit "$status"
