#!/usr/bin/env bash
# Go back to upstream misp-modules after deploy/install.sh: restore the unit it replaced and
# restart. Upstream's checkout and venv were never touched; misp-modules-ng's venv stays (remove
# it with rm -r /opt/misp-modules-ng when no longer wanted).
set -euo pipefail
UNIT="${MISP_MODULES_UNIT:-/etc/systemd/system/misp-modules.service}"  # override for tests or other layouts
BACKUP="$UNIT.before-misp-modules-ng"
if [ -e "$BACKUP" ]; then
    mv "$BACKUP" "$UNIT"
else
    rm -f "$UNIT"  # upstream ran from a unit elsewhere (e.g. /lib/systemd/system), which now applies again
fi
systemctl daemon-reload
systemctl restart misp-modules.service
systemctl --no-pager --lines=5 status misp-modules.service || true
