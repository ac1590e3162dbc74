# lienthong: build, test, install. See README.md.
#
#   make                  build the programs into build/bin (warnings are errors)
#   make test             unit tests (also under ASan/UBSan) and integration tests
#                         against a real local Kafka broker started for the run
#   make demo             the quick start: install packages, build, start Kafka,
#                         two demo agencies exchange documents
#   make bench            throughput against Kafka's own tools on a private broker
#                         (QUICK=1: smoke run); make bench-store: the store's own
#   make install          programs, systemd units, man pages, examples (PREFIX=/usr,
#                         sysconfdir=/etc; DESTDIR=... to stage)
#   make SAN=1            build with AddressSanitizer and UBSan into build-san/
#   make format           clang-format the sources;  make format-check  checks only

PREFIX ?= /usr
bindir ?= $(PREFIX)/bin
datadir ?= $(PREFIX)/share
mandir ?= $(datadir)/man
docdir ?= $(datadir)/doc/lienthong
sysconfdir ?= /etc
# Debian's places for PREFIX=/usr; below PREFIX otherwise.
systemdunitdir ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
sysusersdir ?= $(PREFIX)/lib/sysusers.d
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT = -O1
else
BUILD ?= build
SANFLAGS =
OPT = -O2
endif

CC ?= cc
PKGS = rdkafka libprotobuf-c openssl lmdb jansson libcurl libxml-2.0 libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Wvla -Wpointer-arith
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -I$(BUILD)/gen $(PKG_CFLAGS)
DEPFLAGS = -MMD -MP
LDLIBS = $(PKG_LIBS) -lpthread

PROTOS = proto/lienthong.proto proto/store.proto
GEN_C = $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H = $(GEN_C:.c=.h)

LIB_SRCS = errors/lt_err.c log/lt_log.c text/lt_text.c clock/lt_clock.c clock/lt_backoff.c clock/lt_watchdog.c config/lt_config.c pki/lt_pki.c pki/lt_hash.c \
	proto/lt_sign.c proto/lt_batch.c proto/lt_canon.c proto/lt_envelope.c proto/lt_receipt.c proto/lt_crypt.c \
	store/lt_store.c store/lt_index.c store/lt_lock.c store/lt_health.c store/lt_retention.c store/lt_check.c store/lt_backup.c lifecycle/lt_lifecycle.c broker-adapter/lt_kafka.c broker-adapter/lt_reaper.c \
	producers/lt_submit.c producers/lt_submitd.c producers/lt_forward.c producers/lt_spool.c producers/lt_manifest.c producers/lt_rows_args.c producers/lt_upload_out.c producers/lt_edxml_in.c \
	consumers/lt_recv.c consumers/lt_quarantine.c consumers/lt_http.c consumers/lt_deliver.c consumers/lt_edxml_out.c consumers/lt_xfer.c consumers/lt_inbox.c consumers/lt_receipts.c consumers/lt_business.c consumers/lt_watch.c consumers/lt_receive.c \
	edxml/lt_edxml.c edxml/lt_edxml_write.c \
	monitor/lt_counters.c monitor/lt_render.c monitor/lt_monitor.c \
	federation/lt_dir.c federation/lt_dirfollow.c federation/lt_hop.c federation/lt_relay.c

PROGS = lienthong-agent lienthong-upload lienthong-status lienthong-quarantine lienthong-provision \
	lienthong-report lienthong-directory lienthong-relay
PROG_SRC_lienthong-agent = agent/main.c
PROG_SRC_lienthong-upload = producers/upload_main.c
PROG_SRC_lienthong-status = status/main.c
PROG_SRC_lienthong-quarantine = consumers/quarantine_main.c
PROG_SRC_lienthong-provision = broker-adapter/provision_main.c
PROG_SRC_lienthong-report = consumers/report_main.c
PROG_SRC_lienthong-directory = federation/directory_main.c
PROG_SRC_lienthong-relay = federation/relay_main.c

UNIT_TESTS = test_xfer test_batch test_config test_log test_canon test_sign test_envelope test_store test_deliver test_text \
	test_watch test_forward test_lifecycle test_retention test_crl test_index \
	test_business test_manifest test_spool test_edxml test_vectors test_monitor test_federation \
	test_reaper
TEST_TOOLS = lt-forge lt-proxy lt-edxml-cat lt-vectors lt-tamper

LIB_OBJS = $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
LIB = $(BUILD)/liblienthong.a
BINS = $(addprefix $(BUILD)/bin/,$(PROGS))
TESTBINS = $(addprefix $(BUILD)/tests/,$(UNIT_TESTS) $(TEST_TOOLS))

.PHONY: all lib man test test-unit test-long demo install clean format format-check bench bench-store fuzz fuzz-run
all: $(BINS) $(TESTBINS) man
lib: $(LIB)

# Generated sources are kept (not removed as intermediate files): the fuzz and
# program builds include the headers.
.SECONDARY: $(GEN_C) $(GEN_H)
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(LIB) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(PROG_SRC_$*) $(LIB) $(LDLIBS)

$(BUILD)/bin/lienthong-agent: agent/main.c
$(BUILD)/bin/lienthong-upload: producers/upload_main.c
$(BUILD)/bin/lienthong-status: status/main.c
$(BUILD)/bin/lienthong-quarantine: consumers/quarantine_main.c
$(BUILD)/bin/lienthong-provision: broker-adapter/provision_main.c
$(BUILD)/bin/lienthong-directory: federation/directory_main.c
$(BUILD)/bin/lienthong-relay: federation/relay_main.c

$(BUILD)/tests/%: tests/unit/%.c tests/unit/lt_check.h tests/unit/lt_testpki.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/lt-forge: tests/tools/lt_forge.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/lt-edxml-cat: tests/tools/lt_edxml_cat.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/lt-tamper: tests/tools/lt_tamper.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/lt-vectors: tests/tools/lt_vectors.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/lt-proxy: tests/tools/lt_proxy.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $<

test-unit: all
	tests/run-unit.sh $(BUILD)

test:
	tests/run-all.sh

test-long:
	tests/run-all.sh --long

demo:
	deploy/demo.sh

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# make bench: bench/bench.py (QUICK=1 for the smoke run); make bench-store: the store's own.
bench:
	deploy/install-deps.sh
	$(MAKE) $(BINS) $(BUILD)/bench/crypto_bench $(BUILD)/bench/fs_bench
	LT_BUILD=$(BUILD) $(if $(QUICK),LT_BENCH_QUICK=$(QUICK)) python3 bench/bench.py

bench-store: $(BINS) $(BUILD)/bench/submit_bench $(BUILD)/bench/status_bench
	d=$$(mktemp -d /tmp/lienthong-submit.XXXXXX) && $(BUILD)/bench/submit_bench $$d 4 300; rm -rf $$d
	d=$$(mktemp -d /tmp/lienthong-status.XXXXXX) && $(BUILD)/bench/status_bench $$d 1000000; rm -rf $$d

# Manual pages: man/*.1 are written by hand; lienthong.conf(5) takes its
# settings from the configuration table (lt-config-man) at the line @SETTINGS@.
MAN1 = $(wildcard man/*.1)
MAN5 = $(BUILD)/man/lienthong.conf.5
man: $(MAN5)

$(BUILD)/tools/lt-config-man: config/config_man_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(MAN5): man/lienthong.conf.5.in $(BUILD)/tools/lt-config-man
	@mkdir -p $(dir $@)
	$(BUILD)/tools/lt-config-man >$@.settings
	awk -v f=$@.settings '$$0 == "@SETTINGS@" { while ((getline l <f) > 0) print l; next } { print }' $< >$@.tmp
	rm -f $@.settings
	mv $@.tmp $@

# Units name the installed paths.
UNIT_SUBST = sed -e 's|@bindir@|$(bindir)|g' -e 's|@datadir@|$(datadir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g'

# make install: idempotent; with DESTDIR empty also creates the system users
# (systemd-sysusers) and reloads systemd when it runs.
install: $(BINS) $(MAN5)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(datadir)/lienthong $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(mandir)/man5 $(DESTDIR)$(docdir)/examples $(DESTDIR)$(systemdunitdir) \
		$(DESTDIR)$(sysusersdir) $(DESTDIR)$(sysconfdir)/lienthong
	install -m 0755 $(BINS) $(DESTDIR)$(bindir)/
	install -m 0755 deploy/kafka.sh deploy/pki.sh deploy/agency-conf.sh $(DESTDIR)$(datadir)/lienthong/
	install -m 0644 $(MAN1) $(DESTDIR)$(mandir)/man1/
	install -m 0644 $(MAN5) $(DESTDIR)$(mandir)/man5/
	install -m 0644 README.md $(DESTDIR)$(docdir)/
	install -m 0644 deploy/agency.conf.example deploy/systemd/target.conf.example $(DESTDIR)$(docdir)/examples/
	for u in deploy/systemd/*.service.in; do \
		$(UNIT_SUBST) $$u >$(DESTDIR)$(systemdunitdir)/.lienthong-unit.tmp && \
		install -m 0644 $(DESTDIR)$(systemdunitdir)/.lienthong-unit.tmp \
			$(DESTDIR)$(systemdunitdir)/$$(basename $$u .in) || exit 1; \
	done; rm -f $(DESTDIR)$(systemdunitdir)/.lienthong-unit.tmp
	install -m 0644 deploy/systemd/lienthong.sysusers $(DESTDIR)$(sysusersdir)/lienthong.conf
	if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null 2>&1; then \
		systemd-sysusers $(sysusersdir)/lienthong.conf; fi
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Fuzzing (libFuzzer, clang, ASan+UBSan): make fuzz builds build-fuzz/fuzz_*;
# make fuzz-run FUZZ_SECONDS=600 runs each on a scratch copy of its seed corpus.
FUZZ_TARGETS = fuzz_envelope fuzz_receipt fuzz_config fuzz_manifest fuzz_edxml
FUZZ_SECONDS ?= 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -Wno-unknown-warning-option -fsanitize=fuzzer-no-link $(FUZZ_SAN)" lib
	for t in $(FUZZ_TARGETS); do \
		clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) -Ibuild-fuzz/gen \
			$(PKG_CFLAGS) -o build-fuzz/$$t tests/fuzz/$$t.c build-fuzz/liblienthong.a $(LDLIBS) || exit 1; \
	done
	clang -std=c11 -D_GNU_SOURCE -O1 -g $(FUZZ_SAN) -Ibuild-fuzz/gen $(PKG_CFLAGS) \
		-o build-fuzz/seed_gen tests/fuzz/seed_gen.c build-fuzz/liblienthong.a $(LDLIBS)
fuzz-run: fuzz
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
