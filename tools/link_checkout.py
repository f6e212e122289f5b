#!/usr/bin/env python
"""Make this checkout importable in the environment of the interpreter that runs this file, for its developer
tooling: ``python scripts/benchmark.py`` and the benchmark's child interpreters import :mod:`tools` from it.

    .venv/bin/python tools/link_checkout.py          (scripts/setup_env.sh runs it for .venv and .venv-ref)

Writes :data:`PTH_NAME`, one line naming the checkout, into the environment's site-packages: Python adds the
checkout to ``sys.path`` at start-up, as the editable install does for ``gluon_resnest``, and ``tools`` stays out
of the package that ``pip install .`` builds. Run it by path: it imports nothing from the checkout.
"""
import argparse
import os
import sys
import sysconfig

__all__ = ["CHECKOUT", "PTH_NAME", "link", "main"]

#: The checkout this file belongs to.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The file written into site-packages.
PTH_NAME = "gluon_resnest_checkout.pth"


def link(site_packages=None):
    """Write ``site_packages/PTH_NAME`` (default: this interpreter's site-packages) naming :data:`CHECKOUT`, unless
    it already does; returns its path."""
    path = os.path.join(site_packages or sysconfig.get_paths()["purelib"], PTH_NAME)
    content = CHECKOUT + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == content:
                return path
    except FileNotFoundError:
        pass
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def main(argv=None):
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    print("%s: %s on sys.path" % (link(), CHECKOUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
