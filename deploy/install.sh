#!/usr/bin/env bash
# Replace upstream misp-modules with misp-modules-ng on a MISP host, keeping upstream's module
# files where they are. Run as root from a clone of misp-modules-ng. Every step is in
# docs/deploy.md; deploy/rollback.sh goes back.
#
#   deploy/install.sh --upstream /usr/local/src/misp-modules [--venv /opt/misp-modules-ng/venv]
#                     [--user www-data] [--group www-data] [--extra all] [--args "--workers 2"]
set -euo pipefail

SOURCE="$(cd "$(dirname "$0")/.." && pwd)"
UPSTREAM=""
VENV=/opt/misp-modules-ng/venv
RUN_USER=www-data
RUN_GROUP=""
EXTRA=all
EXTRA_ARGS=""
UNIT="${MISP_MODULES_UNIT:-/etc/systemd/system/misp-modules.service}"  # override for tests or other layouts
BACKUP="$UNIT.before-misp-modules-ng"

while [ $# -gt 0 ]; do
    case "$1" in
        --upstream) UPSTREAM="$2"; shift 2 ;;
        --venv) VENV="$2"; shift 2 ;;
        --user) RUN_USER="$2"; shift 2 ;;
        --group) RUN_GROUP="$2"; shift 2 ;;
        --extra) EXTRA="$2"; shift 2 ;;
        --args) EXTRA_ARGS="$2"; shift 2 ;;
        *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done
[ -n "$UPSTREAM" ] || { echo "--upstream DIR is required: upstream's git checkout or installed misp_modules directory" >&2; exit 2; }
UPSTREAM="$(cd "$UPSTREAM" && pwd)"
RUN_GROUP="${RUN_GROUP:-$RUN_USER}"

echo "1/5 a venv of its own for misp-modules-ng: $VENV (never upstream's venv: both packages are 'misp_modules')"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "$SOURCE"

echo "2/5 upstream's module requirements (extra '$EXTRA') into that venv, without upstream's package"
REQS="$(mktemp)"
trap 'rm -f "$REQS"' EXIT
python3 "$SOURCE/deploy/upstream-requirements.py" "$UPSTREAM" --extra "$EXTRA" > "$REQS"
"$VENV/bin/pip" install --quiet -r "$REQS"

echo "3/5 load check: every module, then exit"
"$VENV/bin/misp-modules" -t -l 127.0.0.1 -p 0 --upstream "$UPSTREAM" 2>&1 | tail -n 3

echo "4/5 systemd unit $UNIT (the one it replaces is kept as $BACKUP)"
if [ -e "$UNIT" ] && [ ! -e "$BACKUP" ]; then
    cp -p "$UNIT" "$BACKUP"
fi
sed -e "s|@USER@|$RUN_USER|g" -e "s|@GROUP@|$RUN_GROUP|g" -e "s|@VENV@|$VENV|g" \
    -e "s|@UPSTREAM@|$UPSTREAM|g" -e "s|@EXTRA_ARGS@|$EXTRA_ARGS|g" \
    "$SOURCE/deploy/misp-modules.service" > "$UNIT"

echo "5/5 restart"
systemctl daemon-reload
systemctl enable misp-modules.service
systemctl restart misp-modules.service
systemctl --no-pager --lines=5 status misp-modules.service || true
echo "done: curl -s http://127.0.0.1:6666/healthcheck; rollback: $SOURCE/deploy/rollback.sh"
