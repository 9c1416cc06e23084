# Make or refresh the project's virtual environment in .venv (safe to run any number of times).
# Usage: . scripts/lib/venv.sh [extras]
set -euo pipefail
extras="${1:-}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Disparo needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." >&2
  echo "Install it (e.g. apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11." >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # pip speaks only when it fails: then its whole output, and what to do.
  log="$(mktemp)"
  echo "Installing Disparo${extras:+ with [$extras]} into .venv ..." >&2
  if ! { .venv/bin/python -m pip install --upgrade pip &&
    .venv/bin/python -m pip install -e ".${extras:+[$extras]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "Installing into .venv failed (pip's output above); fix the cause and run again." >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
  touch "$stamp"
fi
