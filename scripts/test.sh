#!/usr/bin/env bash
# sselab's test command (the README's second command; .ci/run calls it too).
# Installs what the tests need on a fresh Debian machine, then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "== not installing ${need_apt[*]} (needs root and apt-get): those tests will skip"
  fi
fi

echo "== pip install -e .[test]"
python -m pip install -q -e '.[test]'

if [ -f tests/encoders/package.json ] && command -v npm >/dev/null 2>&1; then
  echo "== npm install (the 'ai' package, to validate the Vercel UI stream against its schema)"
  (cd tests/encoders && npm install --silent --no-audit --no-fund) || echo "npm install failed: those tests will skip"
fi

set +e
echo "== ruff"
python -m ruff check sselab sselab_reference_app tests e2e bench docs/hooks.py
lint=$?

echo "== mkdocs build --strict (the guide: a broken link or reference fails)"
NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict --site-dir "${TMPDIR:-/tmp}/sselab-site-$$" 2>&1 \
  | grep -v '^INFO'
docs=${PIPESTATUS[0]}
rm -rf "${TMPDIR:-/tmp}/sselab-site-$$"

echo "== pytest"
python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
if [ $lint -ne 0 ]; then
  echo "ruff found problems (see above)" >&2
  [ $rc -eq 0 ] && rc=1
fi
if [ $docs -ne 0 ]; then
  echo "mkdocs build --strict failed (see above)" >&2
  [ $rc -eq 0 ] && rc=1
fi
elapsed=$((SECONDS - started))
echo "== scripts/test.sh wall time: $((elapsed / 60)) min $((elapsed % 60)) s"
exit $rc
