#!/usr/bin/env bash
# Instructor command: the student edition of the course (README, "Publishing").
#
#   bash scripts/publish.sh [--profile full|quick]   build _build/publish/ (default: full)
#       site/     the HTML book, self-contained (MathJax served from the site), every
#                 Colab/Binder/repository link pointing at course.student_repository
#       student/  the public student repository: chapter notebooks, exercises/ (the release),
#                 a student README, the licences, requirements.txt; never solutions/, tests/,
#                 grading/, nbgrader_config.py or a gradebook (scripts/publish/edition.py)
#   bash scripts/publish.sh push [REMOTE]             push student/ to the branch of repository.branch
#       and site/ to gh-pages of REMOTE (default: course.student_repository), each as one new
#       commit on top of that branch's history; STUDENT_REPO_TOKEN, when set, is sent as an
#       HTTP header (a GitHub token), never written to disk or to a command line.
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
cd "$REPO"
PUBLISH="$REPO/_build/publish"
PAGES_BRANCH=gh-pages   # the student repository serves site/ from it (GitHub Pages)

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

config_value() {  # config_value course.student_repository
  "$VENV/bin/python" -c 'import sys, yaml
value = yaml.safe_load(open("_config.yml"))
for key in sys.argv[1].split("."): value = value[key]
print(value)' "$1"
}

build_edition() {
  phase_start "environment"; ensure_venv; course_environment; phase_end
  rm -rf "$PUBLISH/site" "$PUBLISH/student"
  mkdir -p "$PUBLISH"
  python scripts/publish/edition.py config "$REPO/_build/student-edition.yml"

  # The ordinary build (same execution cache as scripts/build-book.sh), with the student links.
  bash scripts/build-book.sh --config "$REPO/_build/student-edition.yml"

  phase_start "student edition"
  mkdir -p "$PUBLISH/site"
  cp -a "_build/profiles/$COURSE_PROFILE/_build/html/." "$PUBLISH/site/"
  rm -rf "$PUBLISH/site/reports" "$PUBLISH/site/.buildinfo"
  touch "$PUBLISH/site/.nojekyll"   # GitHub Pages must serve _static/ and _images/ as they are
  python scripts/publish/edition.py student "$PUBLISH/student"
  python scripts/publish/edition.py retarget "$PUBLISH/site" "$PUBLISH/student"
  refuse_leaks
  phase_end
  echo "Student edition ($COURSE_PROFILE profile):"
  echo "  site:    $PUBLISH/site/index.html ($(du -sh "$PUBLISH/site" | cut -f1))"
  echo "  student: $PUBLISH/student ($(find "$PUBLISH/student" -type f | wc -l) files)"
  echo "Phases:"; printf '  %s\n' "${PHASE_TIMES[@]}"
}

# A last guard before anything is published; tests/test_publish.py scans line by line.
refuse_leaks() {
  local found
  found=$(grep -rlE 'BEGIN SOLUTION|END SOLUTION|HIDDEN TESTS' "$PUBLISH/site" "$PUBLISH/student" || true)
  found+=$(find "$PUBLISH/student" \( -name solutions -o -name tests -o -name grading \
             -o -name 'nbgrader_config.py' -o -name 'gradebook.db*' -o -name '*.grades.csv' \) -print)
  if [[ -n "$found" ]]; then
    echo "error: the student edition holds instructor material; nothing was published:" >&2
    echo "$found" >&2
    exit 1
  fi
}

# push_tree FOLDER REMOTE BRANCH: make BRANCH of REMOTE hold exactly FOLDER, as one new commit
# on top of its history (none when nothing changed).
push_tree() {
  local folder="$1" remote="$2" branch="$3" work heads=0
  work="$(mktemp -d)"
  git ls-remote --exit-code --heads "$remote" "$branch" > /dev/null || heads=$?
  case "$heads" in
    0) git clone --quiet --depth 1 --branch "$branch" "$remote" "$work" ;;
    2) git init --quiet -b "$branch" "$work"; git -C "$work" remote add origin "$remote" ;;
    *) echo "error: cannot reach the student repository $remote (git ls-remote exit $heads)." >&2
       rm -rf "$work"; exit 1 ;;
  esac
  find "$work" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  cp -a "$folder/." "$work/"
  git -C "$work" add --all
  if git -C "$work" diff --cached --quiet; then
    echo "$remote ($branch) already holds $(basename "$folder")/: nothing to push."
  else
    git -C "$work" -c user.name="${GIT_AUTHOR_NAME:-Course publisher}" \
        -c user.email="${GIT_AUTHOR_EMAIL:-publisher@localhost}" \
        commit --quiet -m "Student edition of $SOURCE_VERSION"
    git -C "$work" push --quiet origin "HEAD:$branch"
    echo "Pushed $(basename "$folder")/ of $SOURCE_VERSION to $remote ($branch)."
  fi
  rm -rf "$work"
}

push_edition() {
  ensure_venv
  local remote="${1:-$(config_value course.student_repository).git}"
  for tree in student site; do
    [[ -f "$PUBLISH/$tree/index.html" || -f "$PUBLISH/$tree/README.md" ]] || {
      echo "error: no $PUBLISH/$tree: run bash scripts/publish.sh first." >&2; exit 2; }
  done
  if [[ -n "${STUDENT_REPO_TOKEN:-}" ]]; then  # git reads extra config from the environment
    export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader
    GIT_CONFIG_VALUE_0="Authorization: Basic $(printf 'x-access-token:%s' "$STUDENT_REPO_TOKEN" | base64 -w0)"
    export GIT_CONFIG_VALUE_0
  fi
  SOURCE_VERSION="$(git describe --tags --always --dirty 2>/dev/null || echo unknown)"
  push_tree "$PUBLISH/student" "$remote" "$(config_value repository.branch)"
  push_tree "$PUBLISH/site" "$remote" "$PAGES_BRANCH"
}

case "${1:-}" in
  push) shift; push_edition "$@" ;;
  -h|--help) usage 0 ;;
  *)
    while (( $# )); do
      case "$1" in
        --profile) [[ $# -ge 2 ]] || usage; export COURSE_PROFILE="$2"; shift 2 ;;
        --profile=*) export COURSE_PROFILE="${1#--profile=}"; shift ;;
        *) echo "error: unknown argument '$1'." >&2; usage ;;
      esac
    done
    build_edition ;;
esac
