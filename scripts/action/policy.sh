#!/usr/bin/env bash
# Fails the job unless the verdict meets INPUT_POLICY:
#   reproducible  only REPRODUCIBLE (the default)
#   normalized    REPRODUCIBLE or EQUIVALENT_AFTER_NORMALIZATION
#   any           any verdict but ERROR (the build must have finished)
# VERDICT is build.sh's output.
set -euo pipefail

verdict=${VERDICT:?VERDICT is unset: run build.sh first}
policy=${INPUT_POLICY:-reproducible}
case "$policy" in
    reproducible) ok=(REPRODUCIBLE) ;;
    normalized) ok=(REPRODUCIBLE EQUIVALENT_AFTER_NORMALIZATION) ;;
    any) ok=(REPRODUCIBLE EQUIVALENT_AFTER_NORMALIZATION NOT_REPRODUCIBLE) ;;
    *) echo "::error::policy '$policy' is none of reproducible, normalized, any"; exit 2 ;;
esac
for v in "${ok[@]}"; do
    if [ "$verdict" = "$v" ]; then
        echo "verdict $verdict meets policy '$policy'"
        exit 0
    fi
done
echo "::error::verdict $verdict does not meet policy '$policy'"
exit 1
