"""Fail when an executed page printed a warning: anything on stderr besides TensorFlow's
start-up notes, and warnings that libraries print to stdout.

    python scripts/check_stderr.py JUPYTER_CACHE_DIR

The book hides stderr (TensorFlow's C++ start-up lines would clutter every page), so
this check is what keeps warnings visible: deprecations, Keras API misuse, anything else
a page prints to stderr is listed and fails the build. TensorFlow's Python logger writes its
warnings to stdout in a notebook ("WARNING:tensorflow:5 out of the last 5 calls to ...
triggered tf.function retracing"), where the book would show them: those fail it too.
"""
import re
import sys

from jupyter_cache import get_cache

# Start-up notes that TensorFlow's C++ runtime prints before Python can silence it.
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h):\d+\] .*"
    r"|E\d{4} [\d:.]+\s+\d+ cuda_\w+\.cc:\d+\] Unable to register .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|\s*)$")

# A warning printed to stdout: a Python logger's default format (WARNING:tensorflow:...) or
# a warnings.warn() message shown there (file.py:12: UserWarning: ...).
STDOUT_WARNING = re.compile(r"^(?:WARNING|ERROR|CRITICAL):[\w.]+:|^\S+:\d+: \w*Warning: ")


def warning_lines(cache_dir):
    cache = get_cache(cache_dir)
    latest = {}  # the cache keeps older executions of edited pages: check the newest only
    for record in cache.list_cache_records():
        if record.uri not in latest or record.created > latest[record.uri].created:
            latest[record.uri] = record
    for record in latest.values():
        notebook = cache.get_cache_bundle(record.pk).nb
        uri = record.uri
        for index, cell in enumerate(notebook.cells):
            for output in cell.get("outputs", []):
                if output.get("output_type") != "stream":
                    continue
                for line in output["text"].splitlines():
                    if output.get("name") == "stderr" and not TF_NOISE.match(line):
                        yield uri, index, "stderr", line
                    elif output.get("name") == "stdout" and STDOUT_WARNING.match(line):
                        yield uri, index, "stdout", line


def main(cache_dir):
    problems = list(warning_lines(cache_dir))
    for uri, index, stream, line in problems:
        print(f"{uri}: cell {index}: {stream}: {line}")
    if problems:
        sys.exit(f"error: {len(problems)} warning line(s) in executed pages (see above)")
    print("warnings check: no warnings on stderr or stdout in the executed pages")


if __name__ == "__main__":
    main(sys.argv[1])
