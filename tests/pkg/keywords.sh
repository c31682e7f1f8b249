#!/usr/bin/env bash
# Checks that man/keepalived.conf.5 documents every keyword the configuration model
# accepts, in the section of the page that describes its block.
#
# Keywords are taken from src/config/model (tests.rs files excluded):
#   * keyword tables `static NAME: &[Kw<T>] = &[ ... ]` with entries Kw::new("name", ..),
#     Kw::<T>::new("name", ..), Kw::deprecated("name", ..) and global.rs's
#     flag!/boolean!/tristate!("name", ..) macros;
#   * checker.rs's conn_kws! macro (Kw::<$t>::new("connect_ip", ..));
#   * the literal lists given to ctx.unknown_keyword(node, ["a", "b"]) by blocks read
#     without a table (garp_group, authentication).
# Each table maps to a `.SH` section of the page (%section below); a new table must be
# added there. A keyword counts as documented when the section shows it in bold:
# \fBname\fR (or \fP), or a `.B name` line; `\-` in the page stands for `-`.
#
# Usage: tests/pkg/keywords.sh [REPO_DIR]
# Prints what is missing and exits 1 if anything is; exits 2 if extraction fails.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
page="$root/man/keepalived.conf.5"
model="$root/src/config/model"
[ -r "$page" ] || { echo "keywords.sh: no $page" >&2; exit 2; }

mapfile -d '' files < <(find "$model" -name '*.rs' ! -name 'tests.rs' -print0 | sort -z)
[ "${#files[@]}" -gt 0 ] || { echo "keywords.sh: no sources under $model" >&2; exit 2; }
PAGE="$page" MODEL="$model" exec perl -e '
use strict;
use warnings;

my %section = (
    "global.rs:ROOT"             => "TOP-LEVEL KEYWORDS",
    "vrrp.rs:ROOT"               => "TOP-LEVEL KEYWORDS",
    "check/mod.rs:ROOT"          => "TOP-LEVEL KEYWORDS",
    "global.rs:GLOBAL"           => "GLOBAL DEFINITIONS",
    "statics.rs:TRACK_GROUP"     => "STATIC ADDRESSES, ROUTES AND RULES",
    "statics.rs:unknown_keyword" => "STATIC ADDRESSES, ROUTES AND RULES",
    "vrrp.rs:SYNC_GROUP_KW"      => "VRRP SYNC GROUPS",
    "vrrp/track.rs:SCRIPT_KW"    => "TRACKED OBJECTS",
    "vrrp/track.rs:TRACK_FILE_KW"    => "TRACKED OBJECTS",
    "vrrp/track.rs:TRACK_PROCESS_KW" => "TRACKED OBJECTS",
    "vrrp/track.rs:BFD_KW"       => "TRACKED OBJECTS",
    "vrrp/instance.rs:INSTANCE_KW"     => "VRRP INSTANCES",
    "vrrp/instance.rs:unknown_keyword" => "VRRP INSTANCES",
    "check/parse.rs:SSL_KW"      => "LOAD BALANCING",
    "check/parse.rs:VS_KW"       => "LOAD BALANCING",
    "check/parse.rs:RS_KW"       => "LOAD BALANCING",
    "check/checker.rs:conn_kws"  => "CHECKERS",
    map { ("check/checker.rs:$_" => "CHECKERS") }
        qw(TIMING_KW HTTP_KW URL_KW MISC_KW SMTP_KW DNS_KW UDP_KW FILE_KW BFD_KW),
);
my $kw_re = qr/(?:Kw(?:::<[^>]*>)?::(?:new|deprecated)|\b(?:flag|boolean|tristate)!)\(\s*"([^"]+)"/;

# The text from position $start to its matching close bracket (strings skipped).
sub bracketed {
    my ($s, $start) = @_;
    my ($depth, $i, $in_str) = (0, $start, 0);
    for (; $i < length $s; $i++) {
        my $c = substr($s, $i, 1);
        if ($in_str) {
            if ($c eq "\\") { $i++ } elsif ($c eq "\"") { $in_str = 0 }
            next;
        }
        if ($c eq "\"") { $in_str = 1 }
        elsif ($c eq "[") { $depth++ }
        elsif ($c eq "]") { $depth--; return substr($s, $start, $i - $start + 1) if $depth == 0 }
    }
    return "";
}

my (%want, $total);   # $want{section}{keyword} = where
my $model = $ENV{MODEL};
for my $file (@ARGV) {
    open my $fh, "<", $file or do { print STDERR "$file: $!\n"; exit 2 };
    local $/; my $s = <$fh>; close $fh;
    (my $rel = $file) =~ s{^\Q$model\E/}{};
    my @found;   # [where, text]
    while ($s =~ /static\s+(\w+)\s*:\s*&\[Kw<[^=]*=\s*&(?=\[)/g) {
        push @found, ["$rel:$1", bracketed($s, pos $s)];
    }
    while ($s =~ /macro_rules!\s*conn_kws\s*\{[^\[]*=>\s*\{\s*(?=\[)/g) {
        push @found, ["$rel:conn_kws", bracketed($s, pos $s)];
    }
    while ($s =~ /unknown_keyword\(\s*[^,()]+,\s*(?=\[)/g) {
        push @found, ["$rel:unknown_keyword", bracketed($s, pos $s)];
    }
    for my $f (@found) {
        my ($where, $text) = @$f;
        my @names;
        if ($where =~ /:unknown_keyword$/) { @names = $text =~ /"([^"]+)"/g }
        else { push @names, $1 while $text =~ /$kw_re/g }
        next unless @names;
        my $sec = $section{$where}
            // do { print STDERR "keywords.sh: no man page section for table $where - add it to %section\n"; exit 2 };
        $want{$sec}{$_} = $where for @names;
        $total += @names;
    }
}

open my $ph, "<", $ENV{PAGE} or die "$ENV{PAGE}: $!";
my (%text, $cur);
while (my $l = <$ph>) {
    $l =~ s/\\-/-/g; $l =~ s/\\&//g;
    if ($l =~ /^\.SH\s+"?([^"\n]+?)"?\s*$/) { $cur = $1; next }
    $text{$cur} .= $l if defined $cur;
}

my ($missing, %all) = (0);
for my $sec (sort keys %want) {
    my $t = $text{$sec};
    if (!defined $t) {
        print "keepalived.conf.5 has no section \"$sec\"\n";
        $missing++;
        next;
    }
    for my $kw (sort keys %{ $want{$sec} }) {
        $all{$kw} = 1;
        next if index($t, "\\fB$kw\\fR") >= 0 || index($t, "\\fB$kw\\fP") >= 0
            || $t =~ /^\.B \Q$kw\E$/m;
        print "not in keepalived.conf.5 section \"$sec\": $kw ($want{$sec}{$kw})\n";
        $missing++;
    }
}
my $n = keys %all;
if ($n < 300) { print STDERR "keywords.sh: only $n keywords found - extraction broken?\n"; exit 2 }
if ($missing) { print STDERR "keywords.sh: $missing keywords are not documented\n"; exit 1 }
print "keywords.sh: all $n keywords documented, in their sections ($total table entries)\n";
' "${files[@]}"
