#!/usr/bin/env bash
# Not part of CI (needs the network or a pip mirror): checks the course with the TensorFlow and
# Keras versions that Google Colab ships (tensorflow 2.20, keras 3.13), in their own venv
# (.venv-colab) and build folder (_build/colab-check), on the committed state of the repository:
#   1. the student edition, quick profile (scripts/publish.sh): every page builds without a
#      warning;
#   2. every chapter notebook of the student edition (student/chapters/*.ipynb), run on its own
#      in an empty folder, as a student meets it in Colab;
#   3. the assignments' reference solutions (what grading must accept), with their tests.
#   bash scripts/check-colab-versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
cd "$REPO"
CHECK="$REPO/_build/colab-check"
rm -rf "$CHECK" && mkdir -p "$CHECK/book" "$CHECK/runs"
# The committed state of the book, so the main quick build's caches are not reused.
git archive HEAD | tar -x -C "$CHECK/book"
sed -e 's/^tensorflow-cpu==.*/tensorflow-cpu==2.20.0/' -e 's/^keras==.*/keras==3.13.2/' \
    -e '/^numpy==/d' -e '/^pandas==/d' -e '/^matplotlib==/d' \
    -e 's/^\(numpy\|pandas\|matplotlib\)$//' requirements.txt > "$CHECK/requirements-colab.txt"
printf 'numpy\npandas\nmatplotlib\n' >> "$CHECK/requirements-colab.txt"

export COURSE_VENV="$REPO/.venv-colab" COURSE_REQUIREMENTS="$CHECK/requirements-colab.txt"
export COURSE_PROFILE=quick
# The copy lives under _build/, so point it at the datasets beside this repository.
[[ -d "$REPO/../shared/datasets" ]] && export COURSE_DATASETS="${COURSE_DATASETS:-$REPO/../shared/datasets}"
VENV="$COURSE_VENV" REQUIREMENTS="$COURSE_REQUIREMENTS"
ensure_venv
"$VENV/bin/python" -c 'import keras, tensorflow as tf; print("Colab versions: TensorFlow", tf.__version__, "Keras", keras.__version__)'

status=0
bash "$CHECK/book/scripts/publish.sh" --profile quick || status=1
STUDENT="$CHECK/book/_build/publish/student"

course_environment; ensure_kernel_env
run_notebook() {  # run_notebook NOTEBOOK FOLDER: execute it there, keep the executed copy
  echo "==> $1"
  (cd "$2" && "$VENV/bin/jupyter" nbconvert --to notebook --execute \
      --ExecutePreprocessor.timeout=900 --output "$CHECK/runs/$(basename "$(dirname "$1")")-$(basename "$1")" \
      "$1") || status=1
}
if [[ -d "$STUDENT/chapters" ]]; then
  for notebook in "$STUDENT"/chapters/*.ipynb; do
    # Colab opens the notebook alone, in an empty working folder.
    alone="$CHECK/alone/$(basename "$notebook" .ipynb)"
    mkdir -p "$alone" && cp "$notebook" "$alone/"
    run_notebook "$alone/$(basename "$notebook")" "$alone"
  done
else
  echo "error: no student edition in $STUDENT" >&2; status=1
fi
for notebook in "$CHECK"/book/solutions/*/*.ipynb; do
  run_notebook "$notebook" "$(dirname "$notebook")"
done
(( status == 0 )) && echo "Colab versions: the student edition built, and every student notebook and reference solution ran." \
  || echo "Colab versions: failures above." >&2
exit "$status"
