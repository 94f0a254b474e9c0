#!/usr/bin/env bash
# Validates every committed metadata file against the schemas that consume
# agent metadata: ocf-tester's ra-api-1.dtd and resource-agents' metadata.rng
# for the OCF agents, tests/fence-metadata.rng for the fence agents.
set -euo pipefail
cd "$(dirname "$0")/.."
ra=/usr/share/resource-agents
if [ ! -f "$ra/ra-api-1.dtd" ] || ! command -v xmllint >/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "validate-metadata: xmllint or $ra/ra-api-1.dtd missing under CI" >&2
		exit 1
	fi
	echo "validate-metadata: SKIP (needs libxml2-utils and resource-agents; run tests/install-deps.sh)"
	exit 0
fi
# pcs checks metadata against its own schema when it creates a resource.
pcs_rng=/usr/share/pcs/data/ocf-1.1.rng
valid() {
	(cd "$ra" && xmllint --noout --valid - <"$OLDPWD/$1") &&
		xmllint --noout --relaxng "$ra/metadata.rng" "$1" 2>&1 | grep -q ' validates$' &&
		{ [ ! -f "$pcs_rng" ] || xmllint --noout --relaxng "$pcs_rng" "$1" 2>&1 | grep -q ' validates$'; }
}
# Fence agents' metadata is not OCF: it has its own shape (fence-metadata.rng).
valid_fence() {
	xmllint --noout --relaxng tests/fence-metadata.rng "$1" 2>&1 | grep -q ' validates$'
}
pass=0 fail=0
for f in metadata/*.xml; do
	check=valid
	case $(basename "$f") in fence_*) check=valid_fence ;; esac
	if $check "$f"; then
		pass=$((pass + 1))
	else
		echo "validate-metadata: $f is invalid" >&2
		fail=$((fail + 1))
	fi
done
echo "metadata: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
