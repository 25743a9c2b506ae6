#!/usr/bin/env bash
# Installs the Python packages of python/requirements.txt (pinned) for the
# python3 on PATH, the one CMake registers the Python tests with. Idempotent:
# when every pinned version is already installed it returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
req=python/requirements.txt
python=${PYTHON:-python3}

if "$python" - "$req" <<'PY'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, version = line.split('==')
    try:
        if metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "install-python-deps: all pinned packages present for $("$python" --version 2>&1)"
  exit 0
fi

echo "install-python-deps: installing $req for $("$python" --version 2>&1)"
if ! "$python" -m pip install --quiet --disable-pip-version-check -r "$req"; then
  # A Debian-managed interpreter refuses plain installs (PEP 668).
  "$python" -m pip install --quiet --disable-pip-version-check --user --break-system-packages -r "$req"
fi
