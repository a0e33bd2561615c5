#!/usr/bin/env bash
# pip_install.sh PYTHON SOURCE_DIR — `pip install --no-build-isolation python/` works offline:
# a copy of the tree's python/, src/ and include/ is installed into a fresh venv (with the
# system's site-packages, for setuptools, pymemcache and Django) with --no-index, then the
# installed package (not the source tree) opens a cache, and ships its stub and py.typed.
set -euo pipefail
PY=$1
SRC=$2
echo "interpreter: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
tmp=$(mktemp -d /tmp/shmc-test-pip-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/tree"
cp -r "$SRC/python" "$SRC/src" "$SRC/include" "$tmp/tree/"
rm -rf "$tmp/tree/python/build" "$tmp/tree/python/"*.egg-info
"$PY" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-build-isolation --no-index --no-deps "$tmp/tree/python"
cd "$tmp"
SHMC_DIR=$tmp "$tmp/venv/bin/python" - <<'PYEOF'
import os, sys
import shmc, shmc.django
pkg = os.path.dirname(shmc.__file__)
assert pkg.startswith(sys.prefix), (pkg, sys.prefix)
for f in ("py.typed", "__init__.pyi", "django.py", "exceptions.py"):
    assert os.path.exists(os.path.join(pkg, f)), f
c = shmc.Client("pipcheck", default_noreply=False)
assert c.set("k", b"v") and c.get("k") == b"v" and c.incr("n", 1) is None
assert shmc.check("pipcheck")[0] == 0
print("installed", shmc.__version__, "at", pkg)
PYEOF
