#!/bin/sh
# Prints paceline's version, for the binaries and the packages alike,
# from git: a release tag vX.Y.Z gives X.Y.Z; N commits after it give
# X.Y.Z+N.gHASH; without any release tag 0.0.0+N.gHASH (N commits in
# all); uncommitted changes add ".dirty". Every form is a valid deb and
# rpm version and sorts after the tag it follows. Outside git: 0.0.0+unknown.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo 0.0.0+unknown
	exit 0
fi
dirty=
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=.dirty
fi
hash=$(git rev-parse --short=7 HEAD)
if desc=$(git describe --tags --match 'v[0-9]*' --long 2>/dev/null); then
	# vX.Y.Z-N-gHASH
	tag=${desc%-*-g*}
	rest=${desc#"$tag"-}
	n=${rest%%-*}
	v=${tag#v}
	if [ "$n" = 0 ]; then
		echo "$v$( [ -n "$dirty" ] && echo "+0.g$hash$dirty" )"
	else
		echo "$v+$n.g$hash$dirty"
	fi
else
	echo "0.0.0+$(git rev-list --count HEAD).g$hash$dirty"
fi
