#!/bin/sh
# Prints paceline's version, for the binaries and the packages alike,
# from git: a release tag vX.Y.Z gives X.Y.Z; N commits after it give
# X.Y.Z+N.gHASH; without a release tag (or in a shallow clone that lacks
# it) 0.0.0+TIME.gHASH, TIME being the commit's UTC time, so that later
# commits sort later however deep the clone is. Uncommitted changes add
# ".dirty". A "-" in a tag (v1.2.0-rc1) becomes "~", which sorts before
# the release in dpkg and rpm alike. Outside git: 0.0.0+unknown.
set -eu
cd "$(dirname "$0")/.."
# The checkout may belong to another user than the one building (root
# running make test in a developer's clone): git would refuse it.
git() { command git -c safe.directory='*' "$@"; }
if ! command -v git >/dev/null 2>&1 || ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo 0.0.0+unknown
	exit 0
fi
dirty=
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	dirty=.dirty
fi
hash=$(git rev-parse --short=7 HEAD)
if desc=$(git describe --tags --match 'v[0-9]*.[0-9]*.[0-9]*' --long 2>/dev/null); then
	# vX.Y.Z-N-gHASH (the tag itself may hold a "-")
	n=${desc%-g*}
	n=${n##*-}
	tag=${desc%-"$n"-g*}
	v=$(printf '%s' "${tag#v}" | tr - '~')
	if [ "$n" = 0 ] && [ -z "$dirty" ]; then
		echo "$v"
	else
		echo "$v+$n.g$hash$dirty"
	fi
else
	echo "0.0.0+$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd).g$hash$dirty"
fi
