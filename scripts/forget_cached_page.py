"""Drop one page from a jupyter-cache so the next build executes it again.

    python scripts/forget_cached_page.py JUPYTER_CACHE_DIR PAGE_SUFFIX

The results page reads results/full/*.csv, which jupyter-cache cannot see (it hashes
code cells only): once a full build has copied the new files there, the build script
forgets the cached results page and executes it again, after every other page.
"""
import sys

from jupyter_cache import get_cache


def forget(cache_dir, suffix):
    cache = get_cache(cache_dir)
    records = [r for r in cache.list_cache_records() if r.uri.endswith(suffix)]
    for record in records:
        cache.remove_cache(record.pk)
    return [r.uri for r in records]


if __name__ == "__main__":
    for uri in forget(*sys.argv[1:3]):
        print(f"forgot the cached execution of {uri}")
