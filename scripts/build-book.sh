#!/usr/bin/env bash
# Maintainer command 1: build the HTML book into _build/html.
#   COURSE_PROFILE=quick|full (default full) picks the cost of the experiments.
# Each profile keeps its own execution cache, doctrees and HTML under
# _build/profiles/<profile>/ (jupyter-cache and Sphinx cannot see environment
# variables); _build/html links to the profile built last.
#   BOOK_DIR=path builds another book with the same settings (the tests use tiny books).
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"

phase_start "environment"; ensure_venv; course_environment; ensure_kernel_env; phase_end
cd "${BOOK_DIR:-$REPO}"

OUT="_build/profiles/$COURSE_PROFILE"
phase_start "build ($COURSE_PROFILE profile)"
mkdir -p "$RESULTS_DIR"
status=0
mkdir -p "$OUT"
jupyter-book build . --path-output "$OUT" --warningiserror --keep-going "$@" 2>&1 | tee "$OUT/build.log" || status=$?
ln -sfn "profiles/$COURSE_PROFILE/_build/html" _build/html
if (( status == 0 )); then python "$REPO/scripts/check_stderr.py" "$OUT/_build/.jupyter_cache" || status=$?; fi
phase_end

if (( status != 0 )); then
  echo "error: the $COURSE_PROFILE build failed (exit $status)." >&2
  if [[ -d "$OUT/_build/html/reports" ]]; then
    echo "Tracebacks of failed cells are kept in:" >&2
    find "$PWD/$OUT/_build/html/reports" -name '*.err.log' >&2
  fi
  exit "$status"
fi
echo "Book ($COURSE_PROFILE profile): $PWD/_build/html/index.html"

# A full build of the course refreshes the committed results (commit results/full/
# afterwards) and, when they changed, rebuilds the results page that compares them.
if [[ "$COURSE_PROFILE" == full && -z "${BOOK_DIR:-}" ]]; then
  mkdir -p results/full
  before=$(cat results/full/*.csv 2>/dev/null | sha256sum)
  cp "$RESULTS_DIR"/*.csv results/full/ 2>/dev/null || true
  cp "$OUT/build.log" results/full/build.log
  echo "Full-profile results copied to results/full/ (commit them)."
  if [[ "$(cat results/full/*.csv 2>/dev/null | sha256sum)" != "$before" ]]; then
    python "$REPO/scripts/forget_cached_page.py" "$OUT/_build/.jupyter_cache" chapters/results.md
    touch chapters/results.md   # so that Sphinx reads the page again
    jupyter-book build . --path-output "$OUT" --warningiserror --keep-going "$@" 2>&1 \
      | tee "$OUT/build-results-page.log"
  fi
fi
