#!/usr/bin/env bash
# make install into a temporary DESTDIR: every program, its man page, the
# units, the sample configuration; the man pages are warning-free roff with the
# sections of a manual page and document every option the program has; the
# units pass systemd-analyze verify without a word and a strict sandbox
# (systemd-analyze security); installing again changes nothing. Needs no broker.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
LT_WORK=$(mktemp -d /tmp/lienthong-test.XXXXXX)
trap lt_teardown EXIT

build=$LT_BUILD
case "$build" in "$LT_ROOT"/*) build=${build#"$LT_ROOT"/} ;; esac
dest=$LT_WORK/dest
make_install() { # log DESTDIR [VAR=value...]
	local log=$1 d=$2
	shift 2
	make -s -C "$LT_ROOT" BUILD="$build" install DESTDIR="$d" "$@" >"$log" 2>&1 || {
		cat "$log" >&2
		return 1
	}
}
# name, mode, size and SHA-256 of everything below a folder
tree_state() {
	(cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

lt_check "make install DESTDIR=... succeeds" make_install "$LT_WORK/install1.log" "$dest"
tree_state "$dest" >"$LT_WORK/tree1"
lt_check "make install again (idempotent) succeeds" make_install "$LT_WORK/install2.log" "$dest"
tree_state "$dest" >"$LT_WORK/tree2"
lt_check "installing again leaves the same tree" cmp -s "$LT_WORK/tree1" "$LT_WORK/tree2"

man1=$dest/usr/share/man/man1
man5=$dest/usr/share/man/man5
units=$dest/lib/systemd/system

# Quiet roff: groff's own warnings (all of them) and man-db's.
roff_clean() { # page
	local out
	out=$( (groff -ww -z -man "$1" && man --warnings -l "$1" >/dev/null) 2>&1) || return 1
	[ -z "$out" ] || { echo "$out" >&2; return 1; }
}
has_sections() { # page section...
	local page=$1 s
	shift
	for s in "$@"; do
		grep -qx "\.SH \"\?$s\"\?" "$page" || { echo "$page: no section $s" >&2; return 1; }
	done
}
# Every long option the program's --help names is in its man page (as \-\-opt).
options_documented() { # prog page
	local opt missing=0
	for opt in $("$LT_BIN/$1" --help | sed '/^Configuration file/,$d' | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$2" || { echo "$2: $opt is not documented" >&2; missing=1; }
	done
	[ $missing -eq 0 ]
}
name_line() { # prog page
	MANWIDTH=80 man -l "$2" 2>/dev/null | grep -Eq "^ *$1 +- "
}

n=0
for prog in "$LT_BIN"/*; do
	[ -f "$prog" ] && [ -x "$prog" ] || continue
	p=$(basename "$prog")
	n=$((n + 1))
	lt_check "$p installed into /usr/bin" cmp -s "$prog" "$dest/usr/bin/$p"
	lt_check "$p has a man page" test -f "$man1/$p.1"
	[ -f "$man1/$p.1" ] || continue
	lt_check "$p.1: no roff warning" roff_clean "$man1/$p.1"
	lt_check "$p.1: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO" \
		has_sections "$man1/$p.1" NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"
	lt_check "$p.1: every option of $p --help" options_documented "$p" "$man1/$p.1"
	lt_check "$p.1: renders with its NAME line" name_line "$p" "$man1/$p.1"
done
lt_figure "$n programs in $LT_BIN"

conf5=$man5/lienthong.conf.5
lt_check "lienthong.conf(5) installed" test -f "$conf5"
lt_check "lienthong.conf.5: no roff warning" roff_clean "$conf5"
lt_check "lienthong.conf.5: NAME, SYNOPSIS, DESCRIPTION, SETTINGS, FILES, EXAMPLES, SEE ALSO" \
	has_sections "$conf5" NAME SYNOPSIS DESCRIPTION SETTINGS FILES EXAMPLES "SEE ALSO"
settings_documented() {
	local key missing=0
	for key in $("$LT_BIN/lienthong-agent" --help | awk '/^Configuration file/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
		case "$key" in
		kafka.*) grep -qx '\.BI kafka\. property' "$conf5" ;;
		peer.kafka.*) grep -qx '\.BI peer\.kafka\. property' "$conf5" ;;
		*) grep -qx "\.B $key" "$conf5" ;;
		esac || { echo "lienthong.conf.5 lacks $key" >&2; missing=1; }
	done
	[ $missing -eq 0 ]
}
lt_check "lienthong.conf.5 documents every setting of lienthong-agent --help" settings_documented
lt_check "lienthong.conf.5: one entry per setting, no more" \
	test "$(grep -c '^\.TP$' <(sed -n '/^\.SH SETTINGS/,/^\.SH /p' "$conf5"))" -eq \
	"$("$LT_BIN/lienthong-agent" --help | awk '/^Configuration file/ { on = 1; next } on && /^  [a-z]/' | wc -l)"

for u in lienthong-agent@.service lienthong-kafka.service; do
	lt_check "unit $u installed" test -f "$units/$u"
	lt_check "unit $u: every @placeholder@ replaced" bash -c "! grep -q '@[a-z]*@' '$units/$u'"
done
lt_check "the agent unit runs /usr/bin/lienthong-agent with /etc/lienthong/%i.conf" \
	grep -qx 'ExecStart=/usr/bin/lienthong-agent -c /etc/lienthong/%i.conf' "$units/lienthong-agent@.service"
lt_check "the broker unit runs the installed kafka.sh" \
	grep -qx 'ExecStart=/usr/share/lienthong/kafka.sh start' "$units/lienthong-kafka.service"
lt_check "sysusers.d file installed" test -f "$dest/usr/lib/sysusers.d/lienthong.conf"
sysusers_ok() {
	local out
	out=$(systemd-sysusers --root="$dest" --dry-run 2>&1) || { echo "$out" >&2; return 1; }
	grep -q "Creating user 'lienthong'" <<<"$out" && grep -q "Creating user 'lienthong-kafka'" <<<"$out"
}
lt_check "systemd-sysusers accepts it: users lienthong and lienthong-kafka" sysusers_ok
for f in usr/share/doc/lienthong/examples/agency.conf.example usr/share/doc/lienthong/examples/target.conf.example \
	usr/share/doc/lienthong/README.md; do
	lt_check "$f installed" test -s "$dest/$f"
done
for f in kafka.sh pki.sh agency-conf.sh; do
	lt_check "$f installed, executable" test -x "$dest/usr/share/lienthong/$f"
done
lt_check "the installed kafka.sh runs" bash -c "'$dest/usr/share/lienthong/kafka.sh' help >/dev/null"
lt_check "the sample configuration's data_dir is the unit's state folder" \
	grep -qx 'data_dir = /var/lib/lienthong/000.00.00.G22' "$dest/usr/share/doc/lienthong/examples/agency.conf.example"
lt_check "/etc/lienthong created" test -d "$dest/etc/lienthong"

# systemd-analyze verify checks that the programs and man pages the units name
# exist, so it runs on an install whose paths are real: PREFIX in a temporary
# folder (DESTDIR=/ so that no system user is created).
root=$LT_WORK/root
lt_check "make install PREFIX=<tmp>/usr succeeds" make_install "$LT_WORK/install3.log" / \
	PREFIX="$root/usr" sysconfdir="$root/etc"
vunits=$root/usr/lib/systemd/system
verify_quiet() { # unit...
	local out
	out=$(MANPATH=$root/usr/share/man SYSTEMD_UNIT_PATH=$vunits: systemd-analyze verify "$@" 2>&1) || {
		echo "$out" >&2
		return 1
	}
	[ -z "$out" ] || { echo "$out" >&2; return 1; }
}
lt_check "systemd-analyze verify: lienthong-agent@.service, not a word" verify_quiet "$vunits/lienthong-agent@.service"
lt_check "systemd-analyze verify: lienthong-agent@000.00.00.G22.service, not a word" \
	verify_quiet lienthong-agent@000.00.00.G22.service
lt_check "systemd-analyze verify: lienthong-kafka.service, not a word" verify_quiet "$vunits/lienthong-kafka.service"
# The same verification sees a broken unit (so the checks above can fail).
sed -e 's/^UMask=0027$/&\nProtectSytem=strict/' "$vunits/lienthong-agent@.service" >"$vunits/lienthong-broken@.service"
verify_complains() { ! verify_quiet "$@" 2>/dev/null; }
lt_check "systemd-analyze verify complains about a misspelt key" verify_complains "$vunits/lienthong-broken@.service"
rm -f "$vunits/lienthong-broken@.service"
security_at_most() { # threshold (tenths) unit
	systemd-analyze security --offline=true --threshold="$1" "$2" >/dev/null 2>&1
}
for u in lienthong-agent@.service lienthong-kafka.service; do
	lt_figure "$u: $(systemd-analyze security --offline=true "$vunits/$u" 2>/dev/null | grep -o 'Overall exposure level[^:]*: [0-9.]*')"
	lt_check "$u: systemd-analyze security exposure at most 2.0" security_at_most 20 "$vunits/$u"
done
