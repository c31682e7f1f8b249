#!/usr/bin/env bash
# Checks that man/keepalived.conf.5 documents every keyword the configuration model
# accepts. Keywords are taken from the keyword tables under src/config/model:
#   Kw::new("name", ...), Kw::<T>::new("name", ...), Kw::deprecated("name", ...),
#   the flag!/boolean!/tristate!("name", ...) macros of global.rs, and the literal lists
#   given to ctx.unknown_keyword(node, ["a", "b"]) by blocks read without a table.
# A keyword counts as documented when the page shows it in bold: \fBname\fR (or \fP),
# or a `.B name` line; `\-` in the page stands for `-`.
# Usage: tests/pkg/keywords.sh [REPO_DIR]   (prints the missing keywords, exits 1 if any)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
page="$root/man/keepalived.conf.5"
model="$root/src/config/model"

[ -r "$page" ] || { echo "keywords.sh: no $page" >&2; exit 2; }

keywords=$(find "$model" -name '*.rs' ! -name 'tests.rs' -print0 | xargs -0 perl -0777 -ne '
    while (/(?:Kw(?:::<[^>]*>)?::(?:new|deprecated)|\b(?:flag|boolean|tristate)!)\(\s*"([^"]+)"/g) {
        print "$1\n";
    }
    while (/unknown_keyword\(\s*[^,()]+,\s*\[([^\]]*)\]/g) {
        my $list = $1;
        print "$1\n" while $list =~ /"([^"]+)"/g;
    }' | sort -u)

count=$(printf '%s\n' "$keywords" | grep -c .)
if [ "$count" -lt 100 ]; then
    echo "keywords.sh: only $count keywords found in $model - extraction broken?" >&2
    exit 2
fi

# The page with roff escapes for '-' and zero-width characters undone.
text=$(sed -e 's/\\-/-/g' -e 's/\\&//g' "$page")

missing=0
while IFS= read -r kw; do
    if ! grep -qF -e "\\fB$kw\\fR" -e "\\fB$kw\\fP" <<<"$text" \
        && ! grep -qxF -e ".B $kw" <<<"$text"; then
        echo "not in keepalived.conf.5: $kw"
        missing=$((missing + 1))
    fi
done <<<"$keywords"

if [ "$missing" -gt 0 ]; then
    echo "keywords.sh: $missing of $count keywords are not documented" >&2
    exit 1
fi
echo "keywords.sh: all $count keywords documented"
