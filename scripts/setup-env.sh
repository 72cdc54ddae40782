# The course's set-up. Run as a command, it creates the virtual environment and nothing else:
#     bash scripts/setup-env.sh      # .venv from requirements.txt (COURSE_VENV, COURSE_REQUIREMENTS)
# Sourced by the maintainer commands, it also gives them an offline Keras cache when
# ../shared/datasets is beside the repo, and the environment variables the notebooks' kernels inherit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COURSE_VENV:-$REPO/.venv}"
REQUIREMENTS="${COURSE_REQUIREMENTS:-$REPO/requirements.txt}"
PYTHON_BIN="${PYTHON:-python3}"

phase_start() { PHASE_NAME="$1"; PHASE_T0=$(date +%s); echo "==> $1"; }
phase_end() {
  local line="$PHASE_NAME: $(( $(date +%s) - PHASE_T0 )) s"
  echo "<== $line"; PHASE_TIMES+=("$line")
}
PHASE_TIMES=()

ensure_venv() {
  "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "error: Python 3.11 or newer is needed ($PYTHON_BIN is $("$PYTHON_BIN" --version 2>&1))." >&2
    echo "       Set PYTHON=/path/to/python3.11 and run again." >&2
    exit 2
  }
  local stamp="$VENV/.requirements.sha256"
  local want; want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  echo "Creating the virtual environment in $VENV from $REQUIREMENTS"
  [[ -x "$VENV/bin/python" ]] || "$PYTHON_BIN" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$REQUIREMENTS"
  echo "$want" > "$stamp"
}

# Kernels start with the IPython start-up files of grading/runtime.py (nbgrader hidden, as
# in Colab) and, when the offline datasets are there (grading.runtime.datasets_dir:
# $COURSE_DATASETS, else ../shared/datasets), a Keras cache seeded from its copies of
# Fashion-MNIST and CIFAR-10. Without them the notebooks download the data themselves,
# exactly as in Colab. A caller may pass its own KERAS_HOME/IPYTHONDIR.
ensure_kernel_env() {
  if [[ -n "${IPYTHONDIR:-}" ]]; then
    echo "Using the caller's IPYTHONDIR=$IPYTHONDIR and KERAS_HOME=${KERAS_HOME:-~/.keras}."
    return 0
  fi
  export IPYTHONDIR="$REPO/_build/ipython"
  local datasets
  datasets="$(cd "$REPO" && "$VENV/bin/python" -c 'from grading import runtime; print(runtime.datasets_dir())')"
  if [[ -d "$datasets" ]]; then
    export KERAS_HOME="${KERAS_HOME:-$REPO/_build/keras_home}"
    (cd "$REPO" && "$VENV/bin/python" -m grading.runtime "$IPYTHONDIR" "$datasets" "$KERAS_HOME")
  else
    echo "No $datasets: Keras will download the datasets (needs internet)."
    (cd "$REPO" && "$VENV/bin/python" -m grading.runtime "$IPYTHONDIR")
  fi
}

course_environment() {
  export COURSE_PROFILE="${COURSE_PROFILE:-full}"
  case "$COURSE_PROFILE" in
    quick|full) ;;
    *) echo "error: COURSE_PROFILE must be 'quick' or 'full', not '$COURSE_PROFILE'." >&2; exit 2 ;;
  esac
  # jupyter-cache's key is the code alone: each profile, and each Keras backend other than
  # TensorFlow, gets its own build folder, cache and results (e.g. quick, quick-jax).
  case "${KERAS_BACKEND:-tensorflow}" in
    tensorflow) BUILD_NAME="$COURSE_PROFILE" ;;
    jax|torch) BUILD_NAME="$COURSE_PROFILE-$KERAS_BACKEND" ;;
    *) echo "error: KERAS_BACKEND must be tensorflow, jax or torch, not '$KERAS_BACKEND'." >&2; exit 2 ;;
  esac
  export RESULTS_DIR="${RESULTS_DIR:-${BOOK_DIR:-$REPO}/_build/results/$BUILD_NAME}"
  export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
  export PYTHONWARNINGS="${PYTHONWARNINGS:-}"
  export PATH="$VENV/bin:$PATH"
}

# Run as a command, `bash scripts/setup-env.sh` creates (or brings up to date) the virtual
# environment and does nothing else; the maintainer commands source this file instead.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  ensure_venv
  echo "Virtual environment ready in $VENV; activate it with: source ${VENV#"$PWD"/}/bin/activate"
fi
