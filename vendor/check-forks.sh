#!/usr/bin/env bash
# Rebuild the forks in vendor/ from the pristine crates.io releases plus the patch series in
# vendor/patches/, and fail if the result differs from the tree (issue 15; vendor/README.md,
# "The patch series"). Run by .ci/run.
#
#   vendor/check-forks.sh                    check both forks
#   vendor/check-forks.sh --add CRATE NAME < MESSAGE
#       turn what vendor/CRATE has beyond its series into the next patch,
#       vendor/patches/CRATE/NNNN-NAME.patch, whose description is MESSAGE (a subject line,
#       a blank line, the body: why, and the test that shows the bug)
#
# The pristine crates are fetched by version through cargo (a throwaway project in a temp
# dir). Not compared: what cargo adds to a package (.cargo_vcs_info.json, Cargo.toml.orig,
# Cargo.lock, .cargo-ok), upstream's .github, the paths listed in vendor/patches/CRATE/drop
# (removed from the copy, not patched) and vendor/may/PYACT-PATCH.md (pyact's notes).
set -euo pipefail
V="$(cd "$(dirname "$0")" && pwd)"
declare -A UPSTREAM=([may]=0.3.51 [generator]=0.8.12)
ADD_CRATE="" ADD_NAME=""
if [ "${1:-}" = "--add" ]; then
    ADD_CRATE="${2:?--add CRATE NAME}" ADD_NAME="${3:?--add CRATE NAME}"
    [ -n "${UPSTREAM[$ADD_CRATE]:-}" ] || { echo "unknown crate $ADD_CRATE" >&2; exit 2; }
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The pristine releases, through cargo.
mkdir -p "$tmp/fetch/src"
{
    printf '[package]\nname = "fetch-pristine"\nversion = "0.0.0"\nedition = "2021"\n'
    printf 'publish = false\n\n[workspace]\n\n[dependencies]\n'
    for c in "${!UPSTREAM[@]}"; do printf '%s = "=%s"\n' "$c" "${UPSTREAM[$c]}"; done
} > "$tmp/fetch/Cargo.toml"
echo 'fn main() {}' > "$tmp/fetch/src/main.rs"
(cd "$tmp/fetch" && cargo fetch -q)
src_of() { # the unpacked source of crates.io package $1 $2
    (cd "$tmp/fetch" && cargo metadata -q --format-version 1) | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == sys.argv[1] and p["version"] == sys.argv[2] and p["source"]:
        print(os.path.dirname(p["manifest_path"]))
' "$1" "$2"
}

git_q() { git -c user.name="pyact maintainers" -c user.email=maintainers@pyact.invalid \
    -c core.autocrlf=false "$@"; }
status=0
for c in "${!UPSTREAM[@]}"; do
    [ -z "$ADD_CRATE" ] || [ "$ADD_CRATE" = "$c" ] || continue
    pristine="$(src_of "$c" "${UPSTREAM[$c]}")"
    [ -d "$pristine" ] || { echo "no source for $c ${UPSTREAM[$c]}" >&2; exit 1; }
    w="$tmp/$c"
    cp -a "$pristine" "$w"
    (
        cd "$w"
        rm -rf .cargo_vcs_info.json Cargo.toml.orig Cargo.lock .cargo-ok .github
        if [ -f "$V/patches/$c/drop" ]; then
            while read -r p; do [ -z "$p" ] || rm -rf -- "$p"; done < "$V/patches/$c/drop"
        fi
        git_q init -q && git_q add -A && git_q commit -qm "$c ${UPSTREAM[$c]}"
        for p in "$V/patches/$c"/[0-9][0-9][0-9][0-9]-*.patch; do
            [ -e "$p" ] || continue
            git_q apply --whitespace=nowarn "$p" || { echo "$p does not apply" >&2; exit 1; }
            git_q add -A && git_q commit -qm "$(basename "$p")"
        done
        # The tree as it is in vendor/, over the series' result.
        find . -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
        cp -a "$V/$c/." .
        rm -f PYACT-PATCH.md
        git_q add -A
    ) || exit 1
    if ! (cd "$w" && git_q diff --cached --quiet); then
        if [ -n "$ADD_CRATE" ]; then
            n=$(find "$V/patches/$c" -name '[0-9][0-9][0-9][0-9]-*.patch' | wc -l)
            out="$V/patches/$c/$(printf '%04d' $((n + 1)))-$ADD_NAME.patch"
            (cd "$w" && git_q commit -q -F - && git_q format-patch -q --zero-commit \
                --no-signature --stdout -1 > "$out")
            echo "wrote $out"
        else
            echo "vendor/$c differs from ${c} ${UPSTREAM[$c]} + vendor/patches/$c:" >&2
            (cd "$w" && git_q diff --cached --stat && git_q diff --cached) >&2
            status=1
        fi
    elif [ -n "$ADD_CRATE" ]; then
        echo "vendor/$c has nothing beyond its series" >&2
        exit 1
    else
        echo "vendor/$c = $c ${UPSTREAM[$c]} + $(ls "$V/patches/$c"/[0-9]*.patch | wc -l) patches"
    fi
done
exit $status
