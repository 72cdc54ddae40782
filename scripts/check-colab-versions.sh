#!/usr/bin/env bash
# Not part of CI: builds the book (quick profile) and runs the reference solutions of the
# assignments with the TensorFlow and Keras versions that Google Colab ships
# (tensorflow 2.20, keras 3.13), in their own venv (.venv-colab) and build folder.
#   bash scripts/check-colab-versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup-env.sh"
cd "$REPO"
CHECK="$REPO/_build/colab-check"
rm -rf "$CHECK" && mkdir -p "$CHECK/book"
# The committed state of the book, so the main quick build's caches are not reused.
git archive HEAD | tar -x -C "$CHECK/book"
sed -e 's/^tensorflow-cpu==.*/tensorflow-cpu==2.20.0/' -e 's/^keras==.*/keras==3.13.2/' \
    -e '/^numpy==/d' -e '/^pandas==/d' -e '/^matplotlib==/d' \
    -e 's/^\(numpy\|pandas\|matplotlib\)$//' requirements.txt > "$CHECK/requirements-colab.txt"
printf 'numpy\npandas\nmatplotlib\n' >> "$CHECK/requirements-colab.txt"

export COURSE_VENV="$REPO/.venv-colab" COURSE_REQUIREMENTS="$CHECK/requirements-colab.txt"
export COURSE_PROFILE=quick BOOK_DIR="$CHECK/book"
VENV="$COURSE_VENV" REQUIREMENTS="$COURSE_REQUIREMENTS"
ensure_venv
"$VENV/bin/python" -c 'import keras, tensorflow as tf; print("Colab versions: TensorFlow", tf.__version__, "Keras", keras.__version__)'
bash "$REPO/scripts/build-book.sh"

course_environment; ensure_kernel_env
status=0
for notebook in "$CHECK"/book/solutions/*/*.ipynb; do
  echo "==> $notebook"
  (cd "$(dirname "$notebook")" && "$VENV/bin/jupyter" nbconvert --to notebook --execute \
      --ExecutePreprocessor.timeout=900 --output "$CHECK/$(basename "$notebook")" "$notebook") || status=1
done
(( status == 0 )) && echo "Colab versions: every page and every reference solution ran." || echo "Colab versions: failures above." >&2
exit "$status"
