#!/usr/bin/env bash
# Maintainer command 1: build the HTML book into _build/html.
#   COURSE_PROFILE=quick|full (default full) picks the cost of the experiments.
#   --jobs N: pages executed at once (default: one per 2 CPU cores, at least 2; or BOOK_JOBS).
#   KERAS_BACKEND=jax|torch builds with that backend (TensorFlow by default).
# The pages are executed first, N at a time, by scripts/execute_pages.py into the execution
# cache that `jupyter-book build` reads, so the build itself finds them cached; it prints
# each page's time. Each profile (and backend) keeps its own execution cache, doctrees and
# HTML under _build/profiles/<profile>[-<backend>]/ (jupyter-cache and Sphinx cannot see
# environment variables); _build/html links to the one built last.
#   BOOK_DIR=path builds another book with the same settings (the tests use tiny books).
#   Other arguments go to jupyter-book build.
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"

# Default: one job per 2 cores, at least 2: on 2 cores, 2 jobs built the quick profile 1.6x
# faster than 1 (scripts/bench_build_jobs.py), as kernel start-ups and Python overhead overlap.
JOBS="${BOOK_JOBS:-$(( $(nproc) / 2 > 2 ? $(nproc) / 2 : 2 ))}"
BUILD_ARGS=()
while (( $# )); do
  case "$1" in
    --jobs|-j) JOBS="${2:?--jobs needs a number}"; shift 2 ;;
    --jobs=*) JOBS="${1#--jobs=}"; shift ;;
    *) BUILD_ARGS+=("$1"); shift ;;
  esac
done
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "error: --jobs takes a positive number, not '$JOBS'." >&2; exit 2; }
# PyTorch gives every process one thread per core, so pages built at once on PyTorch fight
# over the cores: the quick build took 10 to 20 times longer per page on 2 cores with 2 jobs.
# Share the cores out instead (scripts/check-backends.sh measured it; an OMP_NUM_THREADS
# already set wins).
if [[ "${KERAS_BACKEND:-}" == torch && -z "${OMP_NUM_THREADS:-}" ]]; then
  export OMP_NUM_THREADS=$(( $(nproc) / JOBS > 1 ? $(nproc) / JOBS : 1 ))
fi

phase_start "environment"; ensure_venv; course_environment; ensure_kernel_env; phase_end
cd "${BOOK_DIR:-$REPO}"

OUT="_build/profiles/$BUILD_NAME"
mkdir -p "$RESULTS_DIR" "$OUT"
# The pages' set-up cell reads it: glued values go into the prose instead of being printed,
# and in the full profile a claim that the data contradict is a cell error.
export COURSE_BOOK_BUILD=1
status=0
# A full build of the course refreshes the committed results/full/ (commit it afterwards), and
# the results page, which reads them, runs last, once they are there.
REFRESH_RESULTS=""
if [[ "$BUILD_NAME" == full && -z "${BOOK_DIR:-}" ]]; then REFRESH_RESULTS=chapters/results.md; fi
phase_start "pages ($BUILD_NAME, $JOBS job(s))"
# A failed page stops here, with its traceback in the console and in reports/: every page
# has been tried, and building the HTML would only execute the failed ones again.
execute_pages() {
  python "$REPO/scripts/execute_pages.py" "$OUT/_build/.jupyter_cache" --jobs "$JOBS" \
    --times "$OUT/page-times.csv" --reports "$OUT/_build/html/reports" "$@" 2>&1 \
    | tee -a "$OUT/pages.log"
}
: > "$OUT/pages.log"
execute_pages ${REFRESH_RESULTS:+--hold "$REFRESH_RESULTS"} || status=$?
# Every page's checked claims, executed now or earlier (cached), in one file; false ones listed.
python "$REPO/scripts/claims.py" gather "$RESULTS_DIR" | tee -a "$OUT/pages.log"
if [[ -n "$REFRESH_RESULTS" ]] && (( status == 0 )); then
  mkdir -p results/full
  cp "$RESULTS_DIR"/*.csv results/full/
  echo "Full-profile results copied to results/full/ (commit them)." | tee -a "$OUT/pages.log"
  python "$REPO/scripts/forget_cached_page.py" "$OUT/_build/.jupyter_cache" "$REFRESH_RESULTS"
  execute_pages --only "$REFRESH_RESULTS" || status=$?
  # The results page checked its own claims, on the new results: gather them once more.
  python "$REPO/scripts/claims.py" gather "$RESULTS_DIR" | tee -a "$OUT/pages.log"
  cp "$RESULTS_DIR/claims.csv" "$RESULTS_DIR/comparisons.csv" results/full/
fi
phase_end
if (( status == 0 )); then
  phase_start "build ($BUILD_NAME)"
  jupyter-book build . --path-output "$OUT" --warningiserror --keep-going ${BUILD_ARGS[@]+"${BUILD_ARGS[@]}"} 2>&1 \
    | tee "$OUT/build.log" || status=$?
  if (( status == 0 )); then python "$REPO/scripts/check_stderr.py" "$OUT/_build/.jupyter_cache" || status=$?; fi
  phase_end
fi
ln -sfn "profiles/$BUILD_NAME/_build/html" _build/html

if (( status != 0 )); then
  echo "error: the $BUILD_NAME build failed (exit $status)." >&2
  if [[ -d "$OUT/_build/html/reports" ]]; then
    echo "Tracebacks of failed cells are kept in:" >&2
    find "$PWD/$OUT/_build/html/reports" -name '*.err.log' >&2
  fi
  exit "$status"
fi
echo "Book ($BUILD_NAME): $PWD/_build/html/index.html"

if [[ -n "$REFRESH_RESULTS" ]]; then
  cat "$OUT/pages.log" "$OUT/build.log" > results/full/build.log
  cp "$OUT/page-times.csv" results/full/page-times.csv
fi
