#!/usr/bin/env bash
# Maintainer command 2: set up everything the tests need, then run the whole suite
# (quick profile) and print how long each phase took. Extra arguments go to pytest,
# e.g. scripts/run-tests.sh -k book.
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
cd "$REPO"
T0=$(date +%s)

phase_start "python environment"; ensure_venv; phase_end

# Debian packages: Chromium for the page tests, bubblewrap, libseccomp2 (its seccomp filter) and
# util-linux (prlimit) for the grading sandbox, PostgreSQL for the gradebook-server tests (they
# start their own throwaway server; none runs as a service).
phase_start "system packages"
declare -A NEEDS=([chromium]=chromium [chromedriver]=chromium-driver [bwrap]=bubblewrap [prlimit]=util-linux)
missing=()
for cmd in "${!NEEDS[@]}"; do command -v "$cmd" > /dev/null || missing+=("${NEEDS[$cmd]}"); done
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" > /dev/null || missing+=(postgresql)
ldconfig -p | grep -q 'libseccomp\.so\.2 ' || missing+=(libseccomp2)
if (( ${#missing[@]} )); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
  else
    echo "error: the tests need Debian packages that are not installed. As root, run:" >&2
    echo "    apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi
phase_end

# Test files run in parallel, one pytest worker per core plus one (TEST_JOBS=N to change, 0 for
# none): a good part of the suite waits (servers starting, a stopped worker's deadline, the caps
# of hostile notebooks) while the others compute. tests/conftest.py keeps the files that share
# a graded batch or the book on one worker.
phase_start "test suite (pytest, COURSE_PROFILE=quick, ${TEST_JOBS:=$(( $(nproc) + 1 ))} workers)"
export COURSE_PROFILE=quick
status=0
"$VENV/bin/python" -m pytest -n "$TEST_JOBS" --dist loadgroup --no-loadscope-reorder "$@" || status=$?
phase_end

echo "Phases:"
printf '  %s\n' "${PHASE_TIMES[@]}"
echo "  total: $(( $(date +%s) - T0 )) s"
exit "$status"
