#!/usr/bin/env bash
# The operator page in a real browser (Debian's Chromium, headless), loaded
# while agency A sends to B whose HTTP target fails (answers 503): three
# small documents, one of them with a hostile subject (<script>, <img
# onerror>), and a large one that travels in chunks.
#   B's page: health `degraded`, the outage "delivery of received documents
#   waits" with the target's 503 in the reason;
#   A's page: the documents waiting at B with B's reason, the hostile subject
#   shown as text (no script or img element in the DOM, the title unchanged),
#   the traffic chart with its four series;
#   then B's target recovers: every document delivered, B's page `ready`,
#   the outage listed among those that ended.
# Screenshots of both pages and the DOMs are kept under
# ${LT_ARTEFACTS:-$LT_BUILD/test-artefacts}/operator_page/. Chromium missing
# is a failure, never a skip. About 60 s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
A=TEST.A01
B=TEST.B02
ART=${LT_ARTEFACTS:-$LT_BUILD/test-artefacts}/operator_page

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "FAIL: chromium is missing (Debian package chromium: deploy/install-deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

lt_setup
mkdir -p "$ART"
rm -f "$ART"/*
lt_agency $A ec
lt_agency $B ec
lt_http_mode $B 503
lt_http_target $B
lt_http_agency $B
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PA=$(free_port)
PB=$(free_port)
lt_set $A http_listen "127.0.0.1:$PA"
lt_set $B http_listen "127.0.0.1:$PB"
lt_start $A
lt_start $B

get() { curl -s --max-time 10 "$@"; }
# browse URL NAME: the DOM as Chromium built it (NAME.html) and a screenshot (NAME.png).
browse() {
	local profile
	profile=$(mktemp -d "$LT_WORK/chromium.XXXXXX")
	local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync
		--user-data-dir="$profile" --window-size=1280,1400 --hide-scrollbars)
	timeout 90 "$CHROMIUM" "${flags[@]}" --dump-dom "$1" >"$ART/$2.html" 2>>"$LT_WORK/chromium.log" &&
		timeout 90 "$CHROMIUM" "${flags[@]}" --screenshot="$ART/$2.png" "$1" >>"$LT_WORK/chromium.log" 2>&1
	local st=$?
	rm -rf "$profile"
	return $st
}
png_ok() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]; }

# Uploads go through the running agents' submission services (counted by them).
lt_check "A answers /health" lt_wait_until 60 eval "get http://127.0.0.1:$PA/health | grep -q ready"
lt_check "B answers /health" lt_wait_until 60 eval "get http://127.0.0.1:$PB/health | grep -q ready"
IDS=$LT_WORK/ids.txt
: >"$IDS"
lt_make_docs "$LT_WORK/docs" 2 4000
head -c $((3 * 1024 * 1024)) /dev/urandom >"$LT_WORK/large.pdf"
echo "hostile" >"$LT_WORK/hostile.pdf"
HOSTILE='<script>document.title="pwned"</script><img src=x onerror="document.title=1"> Công văn khẩn'
lt_upload $A $B "$IDS" --subject "Large document" "$LT_WORK/large.pdf"
lt_upload $A $B "$IDS" "$LT_WORK/docs/doc-1.pdf" "$LT_WORK/docs/doc-2.pdf"
"$LT_BIN/lienthong-upload" -c "$(lt_conf $A)" --to $B --subject "$HOSTILE" "$LT_WORK/hostile.pdf" >>"$IDS"

# B's target fails: all 4 documents show sent at A, those B tried with B's reason (503).
waiting_at_b() {
	local st
	st=$("$LT_BIN/lienthong-status" -c "$(lt_conf $A)" --json)
	[ "$(grep -c '"status":"sent"' <<<"$st")" -eq 4 ] && grep '"status":"sent"' <<<"$st" | grep -q 503
}
lt_check "B's target fails: 4 documents sent and waiting at A, with B's reason (503)" \
	lt_wait_until 60 waiting_at_b
lt_check "B's /health says target failing" \
	lt_wait_until 30 eval "get http://127.0.0.1:$PB/health | grep -q '^target failing.*503'"

# ---- B's page: the failing target.
lt_check "Chromium loads B's page" browse "http://127.0.0.1:$PB/" page-b-failing
lt_check "B's page: health degraded" \
	grep -q '<span id="health" class="degraded">degraded</span>' "$ART/page-b-failing.html"
lt_check "B's page: the outage names the failing target and its 503" \
	grep -q '<li class="bad" id="target-failing">delivery of received documents waits.*503' "$ART/page-b-failing.html"
lt_check "B's page: the health reasons list target failing" \
	grep -q '<ul id="health-reasons"><li class="bad">target failing' "$ART/page-b-failing.html"
lt_check "B's page: the large document waits as a transfer being received" \
	grep -q 'Large documents: 0 being sent, 1 being received' "$ART/page-b-failing.html"
lt_check "B's screenshot is a PNG" png_ok "$ART/page-b-failing.png"

# ---- A's page: what waits for B, and the hostile subject as text.
lt_check "Chromium loads A's page" browse "http://127.0.0.1:$PA/" page-a-waiting
DOM=$ART/page-a-waiting.html
rows=$(grep -o '<tr><td>TEST.B02</td><td>sent</td>' "$DOM" | wc -l)
lt_check "A's page: 4 documents waiting for $B, status sent ($rows)" [ "$rows" -eq 4 ]
lt_check "A's page: the waiting documents carry B's reason (503)" \
	eval "grep -o '<table id=\"waiting\">.*</table>' '$DOM' | grep -q '503'"
lt_check "A's page: the large document is listed" grep -q 'Large document' "$DOM"
lt_check "A's page: the title is unchanged (no script ran)" grep -q '<title>lienthong TEST.A01</title>' "$DOM"
lt_check "A's page: the hostile subject is text" \
	grep -q '&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img src=x onerror="document.title=1"&gt; Công văn khẩn' "$DOM"
lt_check "A's page: no script or img element in the DOM" eval "! grep -qi '<script\|<img' '$DOM'"
lines=$(grep -o '<polyline' "$DOM" | wc -l)
lt_check "A's page: the traffic chart has its 4 series ($lines)" [ "$lines" -eq 4 ]
lt_check "A's page: the last hour counts 4 submitted" grep -q 'submitted 4,' "$DOM"
lt_check "A's screenshot is a PNG" png_ok "$ART/page-a-waiting.png"

# ---- The target recovers.
lt_http_mode $B ok
lt_check "all 4 documents delivered once B's target answers" lt_wait_until 90 lt_all_delivered $A "$IDS"
lt_check "B's /health ready again" \
	lt_wait_until 30 eval "[ \"\$(get http://127.0.0.1:$PB/health)\" = ready ]"
lt_check "Chromium loads B's page again" browse "http://127.0.0.1:$PB/" page-b-recovered
lt_check "B's page: health ready, no outage" \
	eval "grep -q '<span id=\"health\" class=\"ready\">ready</span>' '$ART/page-b-recovered.html' &&
		! grep -q 'id=\"target-failing\"' '$ART/page-b-recovered.html'"
lt_check "B's page: 4 received in the last hour" grep -q 'received 4 ' "$ART/page-b-recovered.html"
lt_check "B's page: the target's outage listed as ended, with its 503" \
	grep -q '<table id="past-outages">.*<tr><td>target failing</td>.*503' "$ART/page-b-recovered.html"
echo "artefacts: $ART"

lt_check "agent A stops cleanly" lt_stop $A
lt_check "agent B stops cleanly" lt_stop $B
