#!/usr/bin/env bash
# sanitizers.smoke: scripts/sanitizers.sh parses and the presets it uses exist. The sanitizer runs
# themselves are scripts/sanitizers.sh, not this suite (docs/decisions.md, "Sanitizers").
set -euo pipefail
root=$1
bash -n "$root/scripts/sanitizers.sh"
presets=$(cd "$root" && cmake --list-presets=all)
for p in asan tsan; do
  grep -q "\"$p\"" <<<"$presets" || { echo "smoke: no preset $p" >&2; exit 1; }
done
for f in lsan.supp tsan.supp; do
  [[ -f $root/tests/sanitizers/$f ]] || { echo "smoke: no tests/sanitizers/$f" >&2; exit 1; }
  # Every suppression line follows a comment that says why.
  awk -v f="$f" '/^[a-z_]+:/ && prev !~ /^#/ { print "smoke: " f ":" NR ": suppression without a comment above it"; bad = 1 }
                 { prev = $0 } END { exit bad }' "$root/tests/sanitizers/$f" >&2
done
echo "sanitizers smoke: ok"
