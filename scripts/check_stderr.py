"""Fail when an executed page wrote anything to stderr besides TensorFlow's start-up notes.

    python scripts/check_stderr.py JUPYTER_CACHE_DIR

The book hides stderr (TensorFlow's C++ start-up lines would clutter every page), so
this check is what keeps warnings visible: deprecations, Keras API misuse, anything else
a page prints to stderr is listed and fails the build.
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


def unexpected_stderr(cache_dir):
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
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    for line in output["text"].splitlines():
                        if not TF_NOISE.match(line):
                            yield uri, index, line


def main(cache_dir):
    problems = list(unexpected_stderr(cache_dir))
    for uri, index, line in problems:
        print(f"{uri}: cell {index}: stderr: {line}")
    if problems:
        sys.exit(f"error: {len(problems)} unexpected stderr line(s) in executed pages (see above)")
    print("stderr check: no warnings in the executed pages")


if __name__ == "__main__":
    main(sys.argv[1])
