/*
 * Unit tests of the federation pieces without a broker: directory entries
 * (who may sign them, what a holder keeps, the submission check), hop
 * records (appended outside the signed bytes, verified, refused when forged
 * or signed by an agency), the relay's routing rule and its peer settings.
 */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "../../clock/lt_clock.h"
#include "../../federation/lt_dir.h"
#include "../../federation/lt_hop.h"
#include "../../federation/lt_relay.h"
#include "../../proto/lt_canon.h"
#include "../../proto/lt_envelope.h"
#include "lt_check.h"
#include "lt_testpki.h"

static struct lt_tpki pki;
static struct lt_tca ca;
static struct lt_tagency agency, dirsigner, relay;
static struct lt_config cfg;
static struct lt_trust *trust;
static struct lt_signer agency_s, dir_s, relay_s;

static uint8_t *seal(const struct lt_signer *s, const char *code, const char *platform,
                     uint64_t serial, int withdrawn, size_t *len)
{
	lt_err err;
	uint8_t *out = NULL;
	struct lt_dir_in in = {.code = code,
	                       .platform = platform,
	                       .serial = serial,
	                       .issued_at_ms = 1700000000000,
	                       .withdrawn = withdrawn};
	CHECK_OK(lt_dir_seal(&in, s, &out, len, &err), err);
	return out;
}

static void test_dir_signers(void)
{
	size_t len;
	lt_err err;
	char signer[LT_CODE_MAX + 1] = "";
	uint8_t *rec = seal(&dir_s, "P.A01", "PROV", 5, 0, &len);
	Lienthong__DirectoryEntry *e =
	    lt_dir_open(rec, len, &cfg, trust, signer, sizeof signer, &err);
	CHECK(e != NULL);
	if (e != NULL) {
		CHECK(strcmp(e->code, "P.A01") == 0 && strcmp(e->platform, "PROV") == 0);
		CHECK(e->serial == 5);
		lienthong__directory_entry__free_unpacked(e, NULL);
	}
	CHECK(strcmp(signer, "DIR.PROV") == 0);
	/* One changed byte (the platform's last letter): the signature fails. */
	uint8_t *p = memmem(rec, len, "PROV", 4);
	CHECK(p != NULL);
	if (p != NULL) {
		p[3] = 'W';
		CHECK(lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err) == NULL);
		CHECK_STR_CONTAINS(err.msg, "directory entry for P.A01");
	}
	free(rec);
	/* An agency's certificate cannot sign entries; neither can a relay's. */
	rec = seal(&agency_s, "P.A01", "EVIL", 6, 0, &len);
	CHECK(lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err) == NULL);
	CHECK_STR_CONTAINS(err.msg, "lacks the directory signing purpose");
	free(rec);
	rec = seal(&relay_s, "P.A01", "EVIL", 6, 0, &len);
	CHECK(lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err) == NULL);
	CHECK_STR_CONTAINS(err.msg, "lacks the directory signing purpose");
	free(rec);
	/* Bad fields and junk. */
	rec = seal(&dir_s, "P.A01", "bad platform", 7, 0, &len);
	CHECK(lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err) == NULL);
	CHECK_STR_CONTAINS(err.msg, "platform");
	free(rec);
	rec = seal(&dir_s, "P.A01", "PROV", 0, 0, &len);
	CHECK(lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err) == NULL);
	CHECK_STR_CONTAINS(err.msg, "serial 0");
	free(rec);
	uint8_t junk[100];
	memset(junk, 0xff, sizeof junk);
	CHECK(lt_dir_open(junk, sizeof junk, &cfg, trust, NULL, 0, &err) == NULL);
}

/* Puts an entry through lt_dir_keep; returns what it returned. */
static int keep(struct lt_store *s, uint64_t serial, const char *platform, int withdrawn)
{
	size_t len;
	lt_err err;
	struct lt_txn *t = NULL;
	uint8_t *rec = seal(&dir_s, "M.B01", platform, serial, withdrawn, &len);
	Lienthong__DirectoryEntry *e = lt_dir_open(rec, len, &cfg, trust, NULL, 0, &err);
	int v = -1;
	if (CHECK(e != NULL) && CHECK_OK(lt_txn_begin(s, 1, &t, &err), err)) {
		v = lt_dir_keep(t, LT_DB_DIRECTORY, "M.B01", 5, e, rec, len, &err);
		CHECK_OK(lt_txn_commit(t, &err), err);
	}
	if (e != NULL)
		lienthong__directory_entry__free_unpacked(e, NULL);
	free(rec);
	return v;
}

static void test_dir_keep_and_check(void)
{
	struct lt_store *s = NULL;
	lt_err err;
	char dir[PATH_MAX];
	const char *codes[] = {"M.B01"};
	snprintf(dir, sizeof dir, "%s/store", pki.dir);
	if (!CHECK_OK(lt_store_open(&s, dir, 1 << 24, &err), err))
		return;
	CHECK(lt_dir_check_recipients(s, &cfg, codes, 1, &err) != 0);
	CHECK_STR_CONTAINS(err.msg, "recipient M.B01 is not in the directory of platform PROV");
	CHECK(keep(s, 10, "MIN", 0) == 1);
	CHECK_OK(lt_dir_check_recipients(s, &cfg, codes, 1, &err), err);
	CHECK(keep(s, 9, "EVIL", 0) == 0);  /* an older entry, replayed: ignored */
	CHECK(keep(s, 10, "EVIL", 0) == 0); /* the same serial: ignored */
	CHECK(keep(s, 11, "NGSP", 0) == 1); /* moved */
	struct lt_txn *t = NULL;
	Lienthong__DirectoryEntry *e = NULL;
	if (CHECK_OK(lt_txn_begin(s, 0, &t, &err), err)) {
		CHECK_OK(lt_dir_get(t, "M.B01", &e, &err), err);
		CHECK(e != NULL && strcmp(e->platform, "NGSP") == 0);
		if (e != NULL)
			lienthong__directory_entry__free_unpacked(e, NULL);
		lt_txn_abort(t);
	}
	CHECK(keep(s, 12, "NGSP", 1) == 1); /* withdrawn */
	CHECK(lt_dir_check_recipients(s, &cfg, codes, 1, &err) != 0);
	CHECK_STR_CONTAINS(err.msg, "(withdrawn)");
	lt_store_close(s);
}

static Lienthong__Envelope *document(uint8_t **bytes, size_t *len)
{
	lt_err err;
	uint8_t digest[32], sha[32];
	char id[LT_DOCID_LEN + 1];
	const char *to[] = {"M.B01"};
	SHA256((const uint8_t *)"hello", 5, sha);
	struct lt_part_in part = {.name = "a.txt",
	                          .media_type = "text/plain",
	                          .data = (const uint8_t *)"hello",
	                          .len = 5,
	                          .sha256 = sha};
	if (!CHECK_OK(lt_docid_new(id, &err), err))
		return NULL;
	struct lt_envelope_in in = {.document_id = id,
	                            .recipients = to,
	                            .n_recipients = 1,
	                            .subject = "s",
	                            .parts = &part,
	                            .n_parts = 1,
	                            .created_at_ms = lt_now_ms()};
	if (!CHECK_OK(lt_envelope_seal(&in, &agency_s, &cfg, bytes, len, digest, &err), err))
		return NULL;
	return lienthong__envelope__unpack(NULL, *len, *bytes);
}

static void test_hops(void)
{
	lt_err err;
	uint8_t *doc = NULL, *rec = NULL, *notice = NULL, *canon = NULL, digest[32];
	size_t len, rec_len, notice_len, canon_len;
	Lienthong__Envelope *env = document(&doc, &len);
	if (!CHECK(env != NULL))
		return;
	struct lt_hop_in in = {
	    .from_platform = "PROV", .to_platform = "NGSP", .at_ms = 1700000000000};
	if (!CHECK_OK(lt_hop_make(env, doc, len, "M.B01", &in, &relay_s, &rec, &rec_len, &notice,
	                          &notice_len, &err),
	              err))
		goto out;
	/* The sender's bytes come first, unchanged; the record decodes with the hop. */
	CHECK(rec_len > len && memcmp(rec, doc, len) == 0);
	Lienthong__Envelope *e2 = lienthong__envelope__unpack(NULL, rec_len, rec);
	CHECK(e2 != NULL && e2->n_hops == 1);
	CHECK_OK(lt_canon_envelope(env, &canon, &canon_len, &err), err);
	SHA256(canon, canon_len, digest);
	if (e2 != NULL && e2->n_hops == 1) {
		CHECK(strcmp(e2->hops[0]->relay, "RELAY.P.N") == 0);
		CHECK(strcmp(e2->hops[0]->to_platform, "NGSP") == 0);
		CHECK_OK(lt_hop_verify(e2->hops[0], digest, trust, &err), err);
		/* The sender's signature still verifies over the record with the hop. */
		uint8_t d2[32];
		CHECK_OK(lt_envelope_verify(e2, trust, d2, &err), err);
		CHECK(memcmp(d2, digest, 32) == 0);
		/* A forged hop: another platform under the relay's signature. */
		char *orig = e2->hops[0]->to_platform;
		e2->hops[0]->to_platform = "MIN";
		CHECK(lt_hop_verify(e2->hops[0], digest, trust, &err) != 0);
		e2->hops[0]->to_platform = orig;
		digest[0] ^= 1; /* another document */
		CHECK(lt_hop_verify(e2->hops[0], digest, trust, &err) != 0);
		digest[0] ^= 1;
	}
	if (e2 != NULL)
		lienthong__envelope__free_unpacked(e2, NULL);
	/* The notice: addressed to the sender, about the recipient, with the digest. */
	Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, notice_len, notice);
	CHECK(r != NULL && r->status == LIENTHONG__RECEIPT_STATUS__RECEIPT_HOP);
	if (r != NULL) {
		CHECK(strcmp(r->sender, "P.A01") == 0 && strcmp(r->recipient, "M.B01") == 0);
		CHECK(r->document_digest.len == 32 &&
		      memcmp(r->document_digest.data, digest, 32) == 0);
		CHECK(r->n_hops == 1 && r->signature == NULL);
		lienthong__receipt__free_unpacked(r, NULL);
	}
	/* An agency cannot sign hops. */
	free(rec);
	free(notice);
	rec = notice = NULL;
	if (CHECK_OK(lt_hop_make(env, doc, len, "M.B01", &in, &agency_s, &rec, &rec_len, &notice,
	                         &notice_len, &err),
	             err)) {
		e2 = lienthong__envelope__unpack(NULL, rec_len, rec);
		if (CHECK(e2 != NULL && e2->n_hops == 1)) {
			CHECK(lt_hop_verify(e2->hops[0], digest, trust, &err) != 0);
			CHECK_STR_CONTAINS(err.msg, "lacks the relay purpose");
		}
		if (e2 != NULL)
			lienthong__envelope__free_unpacked(e2, NULL);
	}
out:
	free(canon);
	free(rec);
	free(notice);
	free(doc);
	lienthong__envelope__free_unpacked(env, NULL);
}

static void test_routes(void)
{
	struct lt_config prov = {.platform = "PROV", .routes = ""};
	struct lt_config ngsp = {.platform = "NGSP", .routes = "*"};
	struct lt_config min = {.platform = "MIN", .routes = ""};
	struct lt_config hub = {.platform = "NGSP", .routes = "*"};
	/* The province's link: everything but the province lies beyond NGSP. */
	CHECK(lt_relay_reaches(&ngsp, &prov, "MIN"));
	CHECK(lt_relay_reaches(&ngsp, &prov, "NGSP"));
	CHECK(!lt_relay_reaches(&ngsp, &prov, "PROV"));
	CHECK(lt_relay_reaches(&prov, &ngsp, "PROV"));
	CHECK(!lt_relay_reaches(&prov, &ngsp, "MIN"));
	/* The ministry's link at the national side. */
	CHECK(lt_relay_reaches(&min, &hub, "MIN"));
	CHECK(!lt_relay_reaches(&min, &hub, "PROV"));
	CHECK(lt_relay_reaches(&hub, &min, "PROV"));
	/* An explicit list. */
	struct lt_config list = {.platform = "NGSP", .routes = "HN, HCM"};
	CHECK(lt_relay_reaches(&list, &prov, "HCM"));
	CHECK(!lt_relay_reaches(&list, &prov, "DN"));
}

static void test_peer_config(void)
{
	struct lt_config c, peer;
	lt_err err;
	if (!CHECK_OK(lt_tpki_config(&pki, "relay", "RELAY.P.N", &ca, &relay,
	                             "platform = PROV\ntopic_prefix = lgsp\n"
	                             "kafka.bootstrap.servers = a:1\npeer_platform = NGSP\n"
	                             "peer_topic_prefix = ngsp\npeer_routes = *\n"
	                             "peer.kafka.bootstrap.servers = b:2\n",
	                             &c, &err),
	              err)) {
		lt_config_free(&c);
		return;
	}
	if (CHECK_OK(lt_config_peer(&c, &peer, &err), err)) {
		CHECK(strcmp(peer.platform, "NGSP") == 0 && strcmp(peer.topic_prefix, "ngsp") == 0);
		CHECK(strcmp(peer.routes, "*") == 0 && strcmp(peer.peer_platform, "PROV") == 0);
		CHECK(strcmp(lt_config_kafka_get(&peer, "bootstrap.servers"), "b:2") == 0);
		CHECK(strcmp(lt_config_kafka_get(&c, "bootstrap.servers"), "a:1") == 0);
		lt_config_free(&peer);
	}
	lt_config_free(&c);
	if (CHECK_OK(lt_tpki_config(&pki, "one", "P.A01", &ca, &agency, NULL, &c, &err), err))
		CHECK(lt_config_peer(&c, &peer, &err) != 0);
	lt_config_free(&c);
	/* Both sides claiming every other platform: a loop, refused. */
	if (CHECK_OK(lt_tpki_config(&pki, "loop", "RELAY.P.N", &ca, &relay,
	                            "platform = PROV\ntopic_prefix = lgsp\nroutes = *\n"
	                            "peer_platform = NGSP\npeer_topic_prefix = ngsp\n"
	                            "peer_routes = *\n",
	                            &c, &err),
	             err)) {
		CHECK(lt_config_peer(&c, &peer, &err) != 0 && err.code == LT_EINVAL &&
		      strstr(err.msg, "routes and peer_routes are both *") != NULL);
	}
	lt_config_free(&c);
}

int main(void)
{
	lt_err err;
	int ok = lt_tpki_init(&pki) == 0 && lt_tpki_ca(&pki, "ca", "Fed CA", &ca) == 0 &&
	         lt_tpki_agency(
	             &pki, &(struct lt_tagency_opts){.type = "ec", .cn = "P.A01", .issuer = &ca},
	             &agency) == 0 &&
	         lt_tpki_agency(&pki,
	                        &(struct lt_tagency_opts){.type = "ec",
	                                                  .cn = "DIR.PROV",
	                                                  .issuer = &ca,
	                                                  .ext_key_usage = LT_PKI_DIRECTORY_OID},
	                        &dirsigner) == 0 &&
	         lt_tpki_agency(
	             &pki,
	             &(struct lt_tagency_opts){.type = "ec",
	                                       .cn = "RELAY.P.N",
	                                       .issuer = &ca,
	                                       .ext_key_usage = "clientAuth," LT_PKI_RELAY_OID},
	             &relay) == 0;
	if (!CHECK(ok))
		return lt_check_summary();
	CHECK_OK(lt_tpki_config(&pki, "a", "P.A01", &ca, &agency, "platform = PROV\n", &cfg, &err),
	         err);
	trust = lt_trust_load(ca.file, &err);
	CHECK(trust != NULL);
	CHECK_OK(lt_signer_load(&agency_s, agency.key_file, agency.cert_file, &err), err);
	CHECK_OK(lt_signer_load_any(&dir_s, dirsigner.key_file, dirsigner.cert_file, &err), err);
	CHECK_OK(lt_signer_load_any(&relay_s, relay.key_file, relay.cert_file, &err), err);
	if (trust != NULL) {
		LT_RUN(test_dir_signers);
		LT_RUN(test_dir_keep_and_check);
		LT_RUN(test_hops);
	}
	LT_RUN(test_routes);
	LT_RUN(test_peer_config);
	lt_signer_free(&agency_s);
	lt_signer_free(&dir_s);
	lt_signer_free(&relay_s);
	lt_trust_free(trust);
	lt_config_free(&cfg);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
	return lt_check_summary();
}
