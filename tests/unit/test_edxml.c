/*
 * Unit tests of lt_edxml on the fixtures in tests/fixtures/edxml (run from
 * the repository's top folder): every field read, Vietnamese text intact,
 * attachments decoded byte for byte (SHA-256), read(write(x)) = x for every
 * fixture, status messages with every code both ways, a 24 MiB attachment
 * streamed without being held, and the refusals with their messages
 * (DOCTYPE, entities, depth, lengths, base64, namespaces, From/To, codes).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../../edxml/lt_edxml.h"
#include "../../producers/lt_edxml_in.h"
#include "lt_check.h"
#include "lt_testpki.h"

#define FIX "tests/fixtures/edxml/"
#define TO1 "<edXML:To><edXML:OrganId>000.00.01.H26</edXML:OrganId></edXML:To>"
#define TO2 "<edXML:To><edXML:OrganId>000.00.02.H29</edXML:OrganId></edXML:To>"

static struct lt_config cfg;
static char tmp[64];

/* The descriptors handed to the reader: files tmp/part-N. */
struct parts {
	int fd[70];
	char path[70][128];
	size_t n;
};

static int open_part(void *arg, size_t index, lt_err *err)
{
	struct parts *p = arg;
	if (index != p->n || index >= 70)
		return lt_err_set(err, LT_EINVAL, "part %zu out of order", index);
	snprintf(p->path[index], sizeof p->path[index], "%s/part-%zu", tmp, index);
	p->fd[index] = open(p->path[index], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (p->fd[index] < 0)
		return lt_err_errno(err, errno, "open %s", p->path[index]);
	p->n++;
	return p->fd[index];
}

static void parts_close(struct parts *p)
{
	for (size_t i = 0; i < p->n; i++) {
		close(p->fd[i]);
		unlink(p->path[i]);
	}
	p->n = 0;
}

static void hex(const uint8_t *d, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void file_sha(const char *path, char out[65])
{
	uint8_t buf[65536], d[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY);
	ssize_t n;
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
		EVP_DigestUpdate(c, buf, (size_t)n);
	EVP_DigestFinal_ex(c, d, NULL);
	EVP_MD_CTX_free(c);
	if (fd >= 0)
		close(fd);
	hex(d, out);
}

static int read_file(const char *path, struct lt_edxml_doc *doc, struct parts *p, lt_err *err)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return lt_err_errno(err, errno, "open %s", path);
	int rc = lt_edxml_read(fd, path, &cfg, open_part, p, doc, err);
	close(fd);
	return rc;
}

static const char *meta(const struct lt_edxml_doc *d, const char *key)
{
	for (size_t i = 0; i < d->n_meta; i++) {
		if (strcmp(d->meta[i].key, key) == 0)
			return d->meta[i].value;
	}
	return NULL;
}

#define CHECK_META(d, k, v)                                                                        \
	do {                                                                                       \
		const char *got_ = meta((d), (k));                                                 \
		if (!CHECK(got_ != NULL && strcmp(got_, (v)) == 0))                                \
			fprintf(stderr, "    %s = '%s', expected '%s'\n", (k),                     \
			        got_ ? got_ : "(absent)", (v));                                    \
	} while (0)

static const char sha_pdf[] = "c615667bece5f9628bfc76cc06a2f8d943f7cd45e22e2650f89aa6da01e27841";
static const char sha_docx[] = "d7f66ff1074b141b0814e651222fc4a7a9f99034bdd45188e6b308c78736d944";
static const char sha_bin[] = "ceb26c9c0000a08368069ae47690ae8ddc047ae0a8706a3f46b95ec4623dbbb8";

static void check_part(const struct lt_edxml_doc *d, const struct parts *p, size_t i,
                       const char *name, const char *type, uint64_t size, const char *sha)
{
	char h[65], fh[65];
	if (!CHECK(i < d->n_parts && i < p->n))
		return;
	CHECK(strcmp(d->parts[i].name, name) == 0);
	CHECK(strcmp(d->parts[i].media_type, type) == 0);
	CHECK(d->parts[i].size == size);
	hex(d->parts[i].sha256, h);
	file_sha(p->path[i], fh);
	CHECK(strcmp(h, sha) == 0);
	CHECK(strcmp(fh, sha) == 0); /* the bytes written are the attachment's */
}

static void test_read_new(void)
{
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	lt_err err;
	if (!CHECK_OK(read_file(FIX "new_decision.xml", &d, &p, &err), err))
		return;
	CHECK(strcmp(d.sender, "000.00.00.G22") == 0);
	if (CHECK(d.n_recipients == 3)) {
		CHECK(strcmp(d.recipients[0], "000.00.01.H26") == 0);
		CHECK(strcmp(d.recipients[1], "000.00.02.H29") == 0);
		CHECK(strcmp(d.recipients[2], "000.00.03.H31") == 0);
	}
	CHECK(strcmp(d.subject, "Quyết định về việc ban hành Quy chế trao đổi văn bản điện tử "
	                        "giữa các cơ quan nhà nước") == 0);
	CHECK(strcmp(d.document_number, "12/QĐ-TTg") == 0);
	CHECK(d.business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_NEW);
	CHECK(d.concerns == NULL);
	CHECK(d.document_id != NULL &&
	      strcmp(d.document_id, "000.00.00.G22,2026/11/20,12/QĐ-TTg") == 0);
	CHECK_META(&d, "edxml.From.OrganName", "Văn phòng Chính phủ");
	CHECK_META(&d, "edxml.From.OrganAdd", "16 Lê Hồng Phong, Ba Đình, Hà Nội");
	CHECK_META(&d, "edxml.From.Website", "https://vpcp.chinhphu.vn");
	CHECK_META(&d, "edxml.To.1.OrganName", "Ủy ban nhân dân thành phố Hà Nội");
	CHECK_META(&d, "edxml.To.2.Email", "vanthu@tphcm.gov.vn");
	CHECK_META(&d, "edxml.To.3.Fax", ""); /* an empty element is kept */
	CHECK_META(&d, "edxml.To.3.OrganName", "Sở Thông tin và Truyền thông Đà Nẵng");
	CHECK_META(&d, "edxml.PromulgationInfo.Place", "Hà Nội");
	CHECK_META(&d, "edxml.PromulgationInfo.PromulgationDate", "2026/11/20");
	CHECK_META(&d, "edxml.DocumentType.TypeName", "Quyết định");
	CHECK_META(&d, "edxml.Content",
	           "Ban hành kèm theo Quyết định này Quy chế…; hiệu lực từ "
	           "ngày ký.");
	CHECK_META(&d, "edxml.SignerInfo.FullName", "Nguyễn Văn Đức");
	CHECK_META(&d, "edxml.SignerInfo.Competence", "KT. BỘ TRƯỞNG, CHỦ NHIỆM");
	CHECK_META(&d, "edxml.DueDate", "2026/12/31");
	CHECK_META(&d, "edxml.Place.1", "Các Bộ, cơ quan ngang Bộ");
	CHECK_META(&d, "edxml.Place.3", "Lưu: VT, TTĐT (3b)");
	CHECK_META(&d, "edxml.OtherInfo.Priority", "1");
	CHECK_META(&d, "edxml.OtherInfo.SphereOfPromulgation", "Toàn quốc");
	CHECK_META(&d, "edxml.OtherInfo.PageAmount", "3");
	CHECK_META(&d, "edxml.OtherInfo.Appendix.1", "Phụ lục I: Danh mục & biểu mẫu <kèm theo>");
	CHECK_META(&d, "edxml.SteeringType", "1");
	CHECK_META(&d, "edxml.TraceHeader.1.OrganId", "000.00.00.G22");
	CHECK_META(&d, "edxml.TraceHeader.2.Timestamp", "2026/11/20 08:15:07");
	CHECK_META(&d, "edxml.Bussiness.BussinessDocReason", "");
	CHECK_META(&d, "edxml.Bussiness.StaffInfo.Staff", "Trần Thị Hương");
	CHECK_META(&d, "edxml.Bussiness.StaffInfo.Mobile", "0912 345 678");
	CHECK_META(&d, "edxml.Reference.2.AttachmentName", "Phụ lục.docx");
	CHECK_META(&d, "edxml.Reference.1.Description", "Bản chính có chữ ký số");
	CHECK_META(&d, "edxml.Attachment.1.ContentId", "cid-1");
	CHECK_META(&d, "edxml.Attachment.2.Description", "Phụ lục kèm theo");
	/* the header's own fields are not repeated as meta */
	CHECK(meta(&d, "edxml.From.OrganId") == NULL && meta(&d, "edxml.Subject") == NULL &&
	      meta(&d, "edxml.To.1.OrganId") == NULL && meta(&d, "edxml.Code.CodeNumber") == NULL &&
	      meta(&d, "edxml.Bussiness.BussinessDocType") == NULL &&
	      meta(&d, "edxml.Attachment.1.AttachmentName") == NULL);
	const char *sig = meta(&d, "edxml.Signature.1");
	static const char sig_start[] =
	    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">";
	CHECK(sig != NULL && strncmp(sig, sig_start, strlen(sig_start)) == 0);
	CHECK_STR_CONTAINS(sig, "CN=Văn phòng Chính phủ, O=VPCP, C=VN</ds:X509SubjectName>");
	CHECK_STR_CONTAINS(sig, "<ds:DigestValue>q3Vb1mI0yQ9l2n8PzR4k7dE5sY6tW0aX1cB2fG3hJ4k=");
	CHECK(d.n_parts == 2);
	check_part(&d, &p, 0, "Quyết định 12.pdf", "application/pdf", 10294, sha_pdf);
	check_part(&d, &p, 1, "Phụ lục.docx",
	           "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 20400,
	           sha_docx);
	/* what an envelope takes */
	struct lt_envelope_in in;
	memset(&in, 0, sizeof in);
	lt_edxml_envelope_in(&d, &in);
	CHECK(in.n_recipients == 3 && in.n_meta == d.n_meta && in.subject == d.subject &&
	      in.business_type == 0);
	lt_edxml_doc_free(&d);
	parts_close(&p);
}

static void test_read_update(void)
{
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	lt_err err;
	if (!CHECK_OK(read_file(FIX "update_replacement.xml", &d, &p, &err), err))
		return;
	CHECK(d.business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_UPDATE);
	CHECK(d.concerns != NULL && strcmp(d.concerns, "000.00.00.G22,2026/11/20,12/QĐ-TTg") == 0);
	CHECK_META(&d, "edxml.Bussiness.BussinessDocReason",
	           "Đính chính trích yếu và ngày hiệu lực");
	CHECK_META(&d, "edxml.Bussiness.ReplacementInfo.1.OrganId.2", "000.00.02.H29");
	CHECK_META(&d, "edxml.Bussiness.ReplacementInfo.2.DocumentId",
	           "000.00.00.G22,2026/11/18,10/QĐ-TTg");
	CHECK_META(&d, "edxml.Bussiness.ReplacementInfo.2.OrganId.1", "000.00.01.H26");
	CHECK(d.n_parts == 0 && p.n == 0 && d.n_recipients == 2);
	lt_edxml_doc_free(&d);
	parts_close(&p);
}

static void test_read_revoke_replace(void)
{
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	lt_err err;
	if (CHECK_OK(read_file(FIX "revoke.xml", &d, &p, &err), err)) {
		CHECK(d.business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE);
		CHECK(d.concerns != NULL &&
		      strcmp(d.concerns, "000.00.00.G22,2026/11/20,12/QĐ-TTg") == 0);
		CHECK(strcmp(d.document_number, "15/TB-VPCP") == 0);
		CHECK_META(&d, "edxml.Bussiness.BussinessDocReason", "Gửi nhầm đơn vị nhận");
		lt_edxml_doc_free(&d);
	}
	parts_close(&p);
	if (!CHECK_OK(read_file(FIX "replace.xml", &d, &p, &err), err))
		return;
	CHECK(d.business_type == LIENTHONG__BUSINESS_TYPE__BUSINESS_REPLACE);
	/* a replacement concerns its first ReplacementInfo */
	CHECK(d.concerns != NULL && strcmp(d.concerns, "000.00.00.G22,2026/11/19,11/QĐ-TTg") == 0);
	CHECK_META(&d, "edxml.ResponseFor.1.Code", "88/UBND-VX");
	CHECK_META(&d, "edxml.ResponseFor.1.DocumentId", "000.00.02.H29,2026/11/10,88/UBND-VX");
	/* a name with a path and a media type with parameters: made valid, originals kept */
	check_part(&d, &p, 0, "_._Báo cáo_tổng hợp.bin", "application/octet-stream", 11000,
	           sha_bin);
	CHECK_META(&d, "edxml.Attachment.1.AttachmentName", "../Báo cáo\\tổng hợp.bin");
	CHECK_META(&d, "edxml.Attachment.1.ContentType", "application/octet-stream; x=1");
	check_part(&d, &p, 1, "Quyết định 12.pdf", "application/pdf", 10294, sha_pdf);
	CHECK(meta(&d, "edxml.Attachment.2.ContentType") == NULL);
	lt_err e2;
	CHECK(lt_part_name_check(d.parts[0].name, &e2) == 0);
	lt_edxml_doc_free(&d);
	parts_close(&p);
}

/* ---- round trips ---- */

struct hdr {
	Lienthong__Header h;
	Lienthong__Meta *m;
	Lienthong__Meta **mp;
};

static void hdr_from_doc(struct hdr *x, const struct lt_edxml_doc *d)
{
	lienthong__header__init(&x->h);
	x->h.sender = d->sender;
	x->h.recipients = d->recipients;
	x->h.n_recipients = d->n_recipients;
	x->h.subject = d->subject;
	x->h.document_number = d->document_number;
	x->h.business_type = d->business_type;
	x->m = calloc(d->n_meta + 1, sizeof *x->m);
	x->mp = calloc(d->n_meta + 1, sizeof *x->mp);
	for (size_t i = 0; i < d->n_meta; i++) {
		lienthong__meta__init(&x->m[i]);
		x->m[i].key = (char *)d->meta[i].key;
		x->m[i].value = (char *)d->meta[i].value;
		x->mp[i] = &x->m[i];
	}
	x->h.meta = x->mp;
	x->h.n_meta = d->n_meta;
}

static void hdr_free(struct hdr *x)
{
	free(x->m);
	free(x->mp);
}

/* Writes d (parts from p's files) to path. */
static int write_doc(const struct lt_edxml_doc *d, const struct parts *p, const char *path,
                     lt_err *err)
{
	struct hdr x;
	struct lt_edxml_part_src src[70];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), rc;
	if (fd < 0)
		return lt_err_errno(err, errno, "open %s", path);
	hdr_from_doc(&x, d);
	for (size_t i = 0; i < d->n_parts; i++) {
		src[i] = (struct lt_edxml_part_src){
		    .name = d->parts[i].name, .media_type = d->parts[i].media_type, .fd = -1};
		src[i].fd = open(p->path[i], O_RDONLY);
	}
	rc = lt_edxml_write(fd, &x.h, src, d->n_parts, err);
	for (size_t i = 0; i < d->n_parts; i++)
		close(src[i].fd);
	close(fd);
	hdr_free(&x);
	return rc;
}

static int same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const struct lt_edxml_doc *a, const struct lt_edxml_doc *b)
{
	CHECK(strcmp(a->sender, b->sender) == 0);
	if (CHECK(a->n_recipients == b->n_recipients)) {
		for (size_t i = 0; i < a->n_recipients; i++)
			CHECK(strcmp(a->recipients[i], b->recipients[i]) == 0);
	}
	CHECK(strcmp(a->subject, b->subject) == 0);
	CHECK(strcmp(a->document_number, b->document_number) == 0);
	CHECK(a->business_type == b->business_type);
	CHECK(same_str(a->concerns, b->concerns));
	CHECK(same_str(a->document_id, b->document_id));
	for (size_t i = 0; i < a->n_meta; i++) {
		const char *v = meta(b, a->meta[i].key);
		if (!CHECK(v != NULL && strcmp(v, a->meta[i].value) == 0))
			fprintf(stderr, "    %s differs\n", a->meta[i].key);
	}
	/* nothing added, but a manifest of the parts when there was none */
	int had_manifest = 0;
	for (size_t i = 0; i < a->n_meta; i++)
		had_manifest |= strncmp(a->meta[i].key, "edxml.Reference.", 16) == 0;
	for (size_t i = 0; i < b->n_meta; i++) {
		if (meta(a, b->meta[i].key) == NULL &&
		    !CHECK(!had_manifest && strncmp(b->meta[i].key, "edxml.Reference.", 16) == 0))
			fprintf(stderr, "    %s added\n", b->meta[i].key);
	}
	if (CHECK(a->n_parts == b->n_parts)) {
		for (size_t i = 0; i < a->n_parts; i++) {
			CHECK(strcmp(a->parts[i].name, b->parts[i].name) == 0);
			CHECK(strcmp(a->parts[i].media_type, b->parts[i].media_type) == 0);
			CHECK(a->parts[i].size == b->parts[i].size);
			CHECK(memcmp(a->parts[i].sha256, b->parts[i].sha256, 32) == 0);
		}
	}
}

static int files_equal(const char *a, const char *b)
{
	char ha[65], hb[65];
	file_sha(a, ha);
	file_sha(b, hb);
	return strcmp(ha, hb) == 0;
}

static void round_trip(const char *fixture)
{
	struct lt_edxml_doc a, b, c;
	struct parts pa = {.n = 0}, pb = {.n = 0}, pc = {.n = 0};
	char out1[128], out2[128];
	lt_err err;
	snprintf(out1, sizeof out1, "%s/out1.xml", tmp);
	snprintf(out2, sizeof out2, "%s/out2.xml", tmp);
	if (!CHECK_OK(read_file(fixture, &a, &pa, &err), err))
		return;
	if (CHECK_OK(write_doc(&a, &pa, out1, &err), err) &&
	    CHECK_OK(read_file(out1, &b, &pb, &err), err)) {
		check_same(&a, &b);
		/* writing what was read back gives the same bytes again */
		if (CHECK_OK(write_doc(&b, &pb, out2, &err), err) &&
		    CHECK_OK(read_file(out2, &c, &pc, &err), err)) {
			CHECK(files_equal(out1, out2));
			lt_edxml_doc_free(&c);
		}
		lt_edxml_doc_free(&b);
	}
	lt_edxml_doc_free(&a);
	parts_close(&pa);
	parts_close(&pb);
	parts_close(&pc);
}

/* Round trip of a message given as text. */
static void round_trip_text(const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/text.xml", tmp);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	round_trip(path);
}

static char *mini(const char *from, const char *to, const char *extra, const char *trace,
                  const char *att);

/* Corners: empty lists and groups, document element names nested where they mean nothing. */
static void test_round_trip_corners(void)
{
	static const char *const cases[][2] = {
	    {"<edXML:ToPlaces/><edXML:Code/><edXML:Subject/>", "<edXML:Bussiness/>"},
	    {"<edXML:OtherInfo><edXML:AttachmentEncoded><edXML:Attachment><edXML:ContentId>x"
	     "</edXML:ContentId></edXML:Attachment></edXML:AttachmentEncoded><edXML:MessageHeader>"
	     "<edXML:To>t</edXML:To></edXML:MessageHeader><edXML:ToPlaces><edXML:Place>p"
	     "</edXML:Place></edXML:ToPlaces></edXML:OtherInfo>",
	     "<edXML:TraceHeader/><edXML:Bussiness><edXML:Paper>1</edXML:Paper></edXML:Bussiness>"},
	    {"<edXML:ResponseFor><edXML:Code>1/A</edXML:Code></edXML:ResponseFor>"
	     "<edXML:Code><edXML:CodeNotation>QĐ</edXML:CodeNotation></edXML:Code>",
	     ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = mini("000.00.00.G22", TO1, cases[i][0], cases[i][1],
		               "<edXML:AttachmentEncoded><edXML:Attachment/><edXML:Attachment>"
		               "<edXML:AttachmentName>attachment-1</edXML:AttachmentName>"
		               "</edXML:Attachment></edXML:AttachmentEncoded>");
		round_trip_text(s);
		free(s);
	}
}

static void test_round_trips(void)
{
	round_trip(FIX "new_decision.xml");
	round_trip(FIX "update_replacement.xml");
	round_trip(FIX "revoke.xml");
	round_trip(FIX "replace.xml");
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat sb;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY);
	if (fd >= 0 && fstat(fd, &sb) == 0 && (buf = malloc((size_t)sb.st_size + 1)) != NULL)
		*len = read(fd, buf, (size_t)sb.st_size) == sb.st_size ? (size_t)sb.st_size : 0;
	if (fd >= 0)
		close(fd);
	return buf;
}

/*
 * edXML in at one agency, edXML out at the other: each fixture read, sealed
 * into a signed envelope from the sender's key (its meta fields signed),
 * decoded and verified as a recipient would, written as edXML from the
 * verified header and parts, and read again: the same fields and bytes.
 */
static void test_through_envelope(void)
{
	static const char *const fixtures[] = {FIX "new_decision.xml", FIX "update_replacement.xml",
	                                       FIX "revoke.xml", FIX "replace.xml"};
	struct lt_tpki pki;
	struct lt_tca ca;
	struct lt_tagency ag;
	struct lt_signer signer;
	struct lt_trust *trust;
	lt_err err;
	if (!CHECK(lt_tpki_init(&pki) == 0 && lt_tpki_ca(&pki, "ca", "Test CA", &ca) == 0))
		return;
	struct lt_tagency_opts o = {.type = "ec", .cn = "000.00.00.G22", .issuer = &ca};
	if (!CHECK(lt_tpki_agency(&pki, &o, &ag) == 0) ||
	    !CHECK_OK(lt_signer_load(&signer, ag.key_file, ag.cert_file, &err), err))
		return;
	trust = lt_trust_load(ca.file, &err);
	CHECK(trust != NULL);
	for (size_t f = 0; trust != NULL && f < sizeof fixtures / sizeof fixtures[0]; f++) {
		struct lt_edxml_doc a, b;
		struct parts pa = {.n = 0}, pb = {.n = 0};
		struct lt_part_in pin[8];
		struct lt_edxml_part_src src[8];
		uint8_t *data[8] = {NULL};
		char id[LT_DOCID_LEN + 1], out[128];
		uint8_t *sealed = NULL, digest[LT_DIGEST_LEN];
		size_t sealed_len = 0;
		Lienthong__Envelope *env = NULL;
		if (!CHECK_OK(read_file(fixtures[f], &a, &pa, &err), err))
			continue;
		struct lt_envelope_in in;
		memset(&in, 0, sizeof in);
		lt_edxml_envelope_in(&a, &in);
		CHECK_OK(lt_docid_new(id, &err), err);
		in.document_id = id;
		in.created_at_ms = (int64_t)time(NULL) * 1000;
		in.replaces_id = a.concerns != NULL ? "0190f3a2-0000-7000-8000-000000000001" : "";
		for (size_t i = 0; i < a.n_parts && i < 8; i++) {
			size_t len = 0;
			data[i] = slurp(pa.path[i], &len);
			pin[i] = (struct lt_part_in){.name = a.parts[i].name,
			                             .media_type = a.parts[i].media_type,
			                             .data = data[i],
			                             .len = len};
		}
		in.parts = pin;
		in.n_parts = a.n_parts;
		if (CHECK_OK(lt_envelope_seal(&in, &signer, &cfg, &sealed, &sealed_len, NULL, &err),
		             err) &&
		    CHECK_OK(lt_envelope_decode(sealed, sealed_len, &cfg, &env, &err), err) &&
		    CHECK_OK(lt_envelope_verify(env, trust, digest, &err), err)) {
			for (size_t i = 0; i < env->n_parts && i < 8; i++)
				src[i] = (struct lt_edxml_part_src){
				    .name = env->parts[i]->name,
				    .media_type = env->parts[i]->media_type,
				    .data = env->parts[i]->data.data != NULL
				                ? env->parts[i]->data.data
				                : (const uint8_t *)"",
				    .len = env->parts[i]->data.len,
				    .fd = -1};
			snprintf(out, sizeof out, "%s/delivered.xml", tmp);
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			int rc = lt_edxml_write(fd, env->header, src, env->n_parts, &err);
			close(fd);
			if (CHECK_OK(rc, err) && CHECK_OK(read_file(out, &b, &pb, &err), err)) {
				check_same(&a, &b);
				for (size_t i = 0; i < b.n_parts && i < pa.n; i++)
					CHECK(files_equal(pa.path[i], pb.path[i]));
				lt_edxml_doc_free(&b);
			}
		}
		if (env != NULL)
			lienthong__envelope__free_unpacked(env, NULL);
		free(sealed);
		for (size_t i = 0; i < 8; i++)
			free(data[i]);
		lt_edxml_doc_free(&a);
		parts_close(&pa);
		parts_close(&pb);
	}
	lt_trust_free(trust);
	lt_signer_free(&signer);
	lt_tca_free(&ca);
	lt_tpki_done(&pki);
}

/* Text that needs escaping, and a header with no meta (a lienthong-native document). */
static void test_write_escaping(void)
{
	char *recips[] = {"000.00.01.H26"};
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	Lienthong__Meta m1 = LIENTHONG__META__INIT, m2 = LIENTHONG__META__INIT,
	                m3 = LIENTHONG__META__INIT;
	Lienthong__Meta *mp[] = {&m1, &m2, &m3};
	static const uint8_t data[] = "hello\0world";
	struct lt_edxml_part_src src = {.name = "a&b <1>.txt",
	                                .media_type = "text/plain",
	                                .data = data,
	                                .len = sizeof data,
	                                .fd = -1};
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	char out[128];
	lt_err err;
	h.sender = "000.00.00.G22";
	h.recipients = recips;
	h.n_recipients = 1;
	h.subject = "A <b> & \"c\" ]]> 'd'\r\nđ\ttab";
	h.document_number = "7";
	m1.key = "edxml.OtherInfo.Priority";
	m1.value = "<&>";
	m2.key = "other.system.field"; /* not edXML's: left out */
	m2.value = "x";
	m3.key = "edxml.To.1.OrganName";
	m3.value = "Sở \"Nội vụ\"";
	h.meta = mp;
	h.n_meta = 3;
	snprintf(out, sizeof out, "%s/esc.xml", tmp);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = lt_edxml_write(fd, &h, &src, 1, &err);
	close(fd);
	if (!CHECK_OK(rc, err))
		return;
	if (!CHECK_OK(read_file(out, &d, &p, &err), err))
		return;
	CHECK(strcmp(d.subject, h.subject) == 0);
	CHECK(strcmp(d.document_number, "7") == 0);
	CHECK_META(&d, "edxml.OtherInfo.Priority", "<&>");
	CHECK_META(&d, "edxml.To.1.OrganName", "Sở \"Nội vụ\"");
	CHECK(meta(&d, "other.system.field") == NULL);
	/* a manifest is made for the parts */
	CHECK_META(&d, "edxml.Reference.1.AttachmentName", "a&b <1>.txt");
	if (CHECK(d.n_parts == 1)) {
		CHECK(strcmp(d.parts[0].name, "a&b <1>.txt") == 0 &&
		      d.parts[0].size == sizeof data);
	}
	lt_edxml_doc_free(&d);
	parts_close(&p);
}

/* Writer refusals: each with its message. */
static void write_refused(Lienthong__Header *h, const char *key, const char *value,
                          const char *want)
{
	Lienthong__Meta m = LIENTHONG__META__INIT;
	Lienthong__Meta *mp[] = {&m};
	lt_err err;
	m.key = (char *)key;
	m.value = (char *)value;
	h->meta = mp;
	h->n_meta = 1;
	int fd = open("/dev/null", O_WRONLY);
	CHECK(lt_edxml_write(fd, h, NULL, 0, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, want);
	close(fd);
	h->meta = NULL;
	h->n_meta = 0;
}

static void test_write_refusals(void)
{
	char *recips[] = {"000.00.01.H26"};
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	h.sender = "000.00.00.G22";
	h.recipients = recips;
	h.n_recipients = 1;
	h.subject = "s";
	write_refused(&h, "edxml.Subject", "x", "repeats a field of the header");
	write_refused(&h, "edxml.To.1.OrganId", "x", "repeats a field of the header");
	write_refused(&h, "edxml.To.2.Email", "x", "names To 2, but the header has 1 recipients");
	write_refused(&h, "edxml.OtherInfo.Priority", "a\001b", "XML 1.0 cannot carry");
	write_refused(&h, "edxml.Foo.1", "x", "Foo does not repeat in edXML");
	write_refused(&h, "edxml.ToPlaces.Place.1", "x", "ToPlaces is a list");
	write_refused(&h, "edxml.Signature.1", "<!DOCTYPE x><ds:Signature/>",
	              "is not one ds:Signature element");
	write_refused(&h, "edxml.Signature.1", "<ds:Signature xmlns:ds=\"urn:other\"/>",
	              "not a ds:Signature element");
	write_refused(&h, "edxml.Signature.1",
	              "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/><x/>",
	              "not well-formed XML");
	write_refused(&h, "edxml.Attachment.1.ContentId", "x",
	              "names attachment 1, but there are 0");
	h.business_type = LIENTHONG__BUSINESS_TYPE__BUSINESS_REVOKE;
	h.replaces_id = "0190f3a2-0000-7000-8000-000000000001";
	write_refused(&h, "edxml.Bussiness.BussinessDocReason", "r",
	              "add the meta field edxml.Bussiness.DocumentId");
}

/* ---- a large attachment, streamed both ways ---- */

static long vm_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

static void test_large_attachment(void)
{
	enum { SIZE = 24 << 20 };
	char in[128], out[128], want[65], got[65];
	uint8_t *block = malloc(1 << 20);
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	char *recips[] = {"000.00.01.H26"};
	Lienthong__Header h = LIENTHONG__HEADER__INIT;
	lt_err err;
	snprintf(in, sizeof in, "%s/big.bin", tmp);
	snprintf(out, sizeof out, "%s/big.xml", tmp);
	int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; i < SIZE >> 20; i++) {
		for (int j = 0; j < 1 << 20; j++)
			block[j] = (uint8_t)((i * 131 + j * 7 + (j >> 9)) & 0xff);
		CHECK(write(fd, block, 1 << 20) == 1 << 20);
	}
	close(fd);
	free(block);
	file_sha(in, want);
	h.sender = "000.00.00.G22";
	h.recipients = recips;
	h.n_recipients = 1;
	h.subject = "Tệp lớn";
	struct lt_edxml_part_src src = {.name = "lớn.bin",
	                                .media_type = "application/octet-stream"};
	src.fd = open(in, O_RDONLY);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	long before = vm_hwm_kb();
	int rc = lt_edxml_write(fd, &h, &src, 1, &err);
	close(fd);
	close(src.fd);
	if (!CHECK_OK(rc, err))
		return;
	if (CHECK_OK(read_file(out, &d, &p, &err), err)) {
		long after = vm_hwm_kb();
		printf("figure: peak RSS grew by %ld KiB writing and reading a %d MiB attachment "
		       "(%d MiB of base64)\n",
		       after - before, SIZE >> 20, SIZE / 3 * 4 >> 20);
		/* held whole, the base64 alone would be 32 MiB */
		CHECK(after - before < (SIZE >> 10) / 2);
		CHECK(d.n_parts == 1 && d.parts[0].size == SIZE);
		hex(d.parts[0].sha256, got);
		CHECK(strcmp(got, want) == 0);
		file_sha(p.path[0], got);
		CHECK(strcmp(got, want) == 0);
		lt_edxml_doc_free(&d);
	}
	parts_close(&p);
	unlink(in);
	unlink(out);
}

/* ---- refusals ---- */

static const char mini_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<edXML:edXML xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">\n"
    "<edXML:edXMLEnvelope><edXML:edXMLHeader><edXML:MessageHeader>\n";

/* A small document with FROM, TO, EXTRA (in MessageHeader), TRACE and ATT spliced in. */
static char *mini(const char *from, const char *to, const char *extra, const char *trace,
                  const char *att)
{
	size_t n = strlen(mini_head) + strlen(from) + strlen(to) + strlen(extra) + strlen(trace) +
	           strlen(att) + 512;
	char *s = malloc(n);
	snprintf(s, n,
	         "%s<edXML:From><edXML:OrganId>%s</edXML:OrganId></edXML:From>\n%s\n%s"
	         "</edXML:MessageHeader>\n<edXML:TraceHeaderList>%s</edXML:TraceHeaderList>\n"
	         "</edXML:edXMLHeader></edXML:edXMLEnvelope>\n%s</edXML:edXML>\n",
	         mini_head, from, to, extra, trace, att);
	return s;
}

static int read_text(const char *text, struct lt_config *c, lt_err *err)
{
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	int rc = lt_edxml_read_mem((const uint8_t *)text, strlen(text), "msg.xml", c, open_part, &p,
	                           &d, err);
	if (rc == 0)
		lt_edxml_doc_free(&d);
	parts_close(&p);
	return rc;
}

static void refused(const char *text, const char *want)
{
	lt_err err;
	CHECK(read_text(text, &cfg, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, want);
}

static void refused_mini(char *text, const char *want)
{
	refused(text, want);
	free(text);
}

static void test_mini_accepted(void)
{
	lt_err err;
	char *s = mini("000.00.00.G22", TO1 TO2, "", "", "");
	CHECK_OK(read_text(s, &cfg, &err), err);
	free(s);
}

static void test_refuse_doctype(void)
{
	char secret[128], fifo[128], text[2048];
	int fd;
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
	        " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	        " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	        " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	        "]>\n<edXML:edXML xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">"
	        "&lol4;</edXML:edXML>\n",
	        "msg.xml line 2: a DOCTYPE declaration (<!DOCTYPE lolz>) is refused");
	/* XXE: a file entity must never be read (the secret stays out of everything) */
	snprintf(secret, sizeof secret, "%s/secret.txt", tmp);
	fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write(fd, "TOPSECRET", 9) == 9);
	close(fd);
	snprintf(
	    text, sizeof text,
	    "<?xml version=\"1.0\"?>\n<!DOCTYPE edXML [ <!ENTITY xxe SYSTEM \"file://%s\"> ]>\n"
	    "%s<edXML:From><edXML:OrganId>000.00.00.G22</edXML:OrganId></edXML:From>"
	    "<edXML:Subject>&xxe;</edXML:Subject>",
	    secret, strchr(mini_head, '\n') + 1);
	lt_err err;
	CHECK(read_text(text, &cfg, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "DOCTYPE");
	CHECK(strstr(err.msg, "TOPSECRET") == NULL);
	/* a FIFO as the entity: opening it would block this test for good */
	snprintf(fifo, sizeof fifo, "%s/fifo", tmp);
	CHECK(mkfifo(fifo, 0600) == 0);
	snprintf(text, sizeof text,
	         "<?xml version=\"1.0\"?>\n<!DOCTYPE x SYSTEM \"file://%s\">\n<x>&a;</x>", fifo);
	refused(text, "DOCTYPE");
	/* the FIFO has no reader: nobody opened it */
	fd = open(fifo, O_WRONLY | O_NONBLOCK);
	CHECK(fd == -1 && errno == ENXIO);
	if (fd >= 0)
		close(fd);
	unlink(fifo);
	unlink(secret);
	/* a DOCTYPE after an earlier error stops the parser too (nothing declared, nothing leaked)
	 */
	refused("<?xml \x01 version=\"1.0\"?><!DOCTYPE c [<!ENTITY b \"c\">]><a>&b;</a>",
	        "msg.xml line 1: not well-formed XML");
	/* an entity without a DTD is not defined */
	refused_mini(mini("000.00.00.G22", TO1, "<edXML:Subject>&ext;</edXML:Subject>", "", ""),
	             "not well-formed XML: Entity 'ext' not defined");
}

static void test_refuse_structure(void)
{
	char deep[4096];
	size_t n = 0;
	n += (size_t)snprintf(deep + n, sizeof deep - n, "<edXML:OtherInfo>");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(deep + n, sizeof deep - n, "<edXML:A%d>", i);
	for (int i = 29; i >= 0; i--)
		n += (size_t)snprintf(deep + n, sizeof deep - n, "</edXML:A%d>", i);
	snprintf(deep + n, sizeof deep - n, "</edXML:OtherInfo>");
	refused_mini(mini("000.00.00.G22", TO1, deep, "", ""), "nested deeper than 24 levels");

	char *long_text = malloc(6000), *extra = malloc(6100);
	memset(long_text, 'x', 5000);
	long_text[5000] = '\0';
	snprintf(extra, 6100, "<edXML:Content>%s</edXML:Content>", long_text);
	refused_mini(mini("000.00.00.G22", TO1, extra, "", ""),
	             "the text of element Content is longer than 4096 bytes");
	long_text[2000] = '\0';
	snprintf(extra, 6100, "<edXML:Subject>%s</edXML:Subject>", long_text);
	refused_mini(mini("000.00.00.G22", TO1, extra, "", ""),
	             "Subject is longer than 1024 bytes");
	free(long_text);
	free(extra);

	refused("<?xml version=\"1.0\"?><e:edXML xmlns:e=\"urn:other\"/>",
	        "msg.xml line 1: element edXML is in the unknown namespace urn:other");
	refused("<edXML/>", "element edXML has no namespace");
	refused_mini(mini("000.00.00.G22", TO1, "<Subject>s</Subject>", "", ""),
	             "element Subject has no namespace");
	refused_mini(mini("000.00.00.G22", TO1, "<edXML:Subject a=\"1\">s</edXML:Subject>", "", ""),
	             "element Subject has the attribute a");
	refused_mini(mini("000.00.00.G22", TO1,
	                  "<edXML:OtherInfo>x<edXML:P>1</edXML:P></edXML:OtherInfo>", "", ""),
	             "element OtherInfo holds text and elements");
	refused_mini(mini("000.00.00.G22", TO1,
	                  "<edXML:Subject>a</edXML:Subject><edXML:Subject>b</edXML:Subject>", "",
	                  ""),
	             "Subject appears twice: keep one");
	refused("<?xml version=\"1.0\"?>\n<edXML:Status xmlns:edXML=\"" LT_EDXML_NS "\"/>",
	        "the root element is Status");
	refused_mini(
	    mini("000.00.00.G22", TO1,
	         "<edXML:Content>a &amp; b</edXML:Content><edXML:Content>c</edXML:Content>", "",
	         ""),
	    "the field Content appears twice");
	refused("<edXML:edXML xmlns:edXML=\"" LT_EDXML_NS "\"><edXML:edXMLEnvelope>",
	        "not well-formed XML");
	refused("", "not well-formed XML");
}

/* A signature too large to keep is refused (the parser stops in the middle of its text). */
static void test_refuse_signature(void)
{
	char *s = mini("000.00.00.G22", TO1, "", "", "");
	size_t n = strlen(s) + 60000;
	char *big = malloc(n), *at = strstr(s, "</edXML:edXMLHeader>");
	int k =
	    snprintf(big, n, "%.*s<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
	             (int)(at - s), s);
	for (int i = 0; i < 600; i++) /* 600 x 39 bytes: past 16 KiB, within n */
		k += snprintf(big + k, n - (size_t)k, "&amp;<ds:X a=\"&quot;\">v</ds:X>");
	snprintf(big + k, n - (size_t)k, "</ds:Signature>%s", at);
	refused(big, "the XML signature is larger than 16384 bytes");
	free(big);
	free(s);
}

static void test_refuse_from_to(void)
{
	refused_mini(mini("000.00.00.G22", "", "", "", ""), "no To/OrganId");
	char *s = mini("x", TO1, "", "", "");
	char *from = strstr(s, "<edXML:From>");
	char *end = strstr(s, "</edXML:From>") + strlen("</edXML:From>");
	memmove(from, end, strlen(end) + 1);
	refused_mini(s, "no From/OrganId");
	refused_mini(mini("000.00.00.G22", TO1 TO2 TO1, "", "", ""),
	             "recipient 000.00.01.H26 appears twice in To (also line 5)");
	refused_mini(mini("000.00.00.G22",
	                  TO1 "<edXML:To><edXML:OrganName>x</edXML:OrganName></edXML:To>", "", "",
	                  ""),
	             "To 2 (from line 5) has no OrganId");
	refused_mini(mini("bad code!", TO1, "", "", ""),
	             "From/OrganId: agency code 'bad code!' has a character");
	refused_mini(mini("000.00.00.G22", TO1,
	                  "<edXML:Code><edXML:CodeNumber>1/2</edXML:CodeNumber></edXML:Code>", "",
	                  ""),
	             "CodeNumber '1/2' holds a '/'");
}

static void test_refuse_business(void)
{
	refused_mini(mini("000.00.00.G22", TO1, "",
	                  "<edXML:Bussiness><edXML:BussinessDocType>7</edXML:BussinessDocType>"
	                  "</edXML:Bussiness>",
	                  ""),
	             "BussinessDocType '7' is not 0 (new), 1 (revoke), 2 (update) or 3 (replace)");
	refused_mini(mini("000.00.00.G22", TO1, "",
	                  "<edXML:Bussiness><edXML:BussinessDocType>2</edXML:BussinessDocType>"
	                  "</edXML:Bussiness>",
	                  ""),
	             "BussinessDocType 2 (update) names no document");
	refused_mini(mini("000.00.00.G22", TO1, "",
	                  "<edXML:Bussiness><edXML:DocumentId>A,2026/01/01,1/X</edXML:DocumentId>"
	                  "<edXML:BussinessDocType>1</edXML:BussinessDocType></edXML:Bussiness>",
	                  "<edXML:AttachmentEncoded><edXML:Attachment><edXML:AttachmentName>a"
	                  "</edXML:AttachmentName></edXML:Attachment></edXML:AttachmentEncoded>"),
	             "a revoke (BussinessDocType 1) carries no attachments, this one has 1");
	refused_mini(mini("000.00.00.G22", TO1, "", "<edXML:Other>1</edXML:Other>", ""),
	             "element Other is not expected in TraceHeaderList");
}

#define ATT(b64)                                                                                   \
	"<edXML:AttachmentEncoded><edXML:Attachment><edXML:AttachmentName>a.pdf"                   \
	"</edXML:AttachmentName><edXML:ContentTransferEncoded>" b64                                \
	"</edXML:ContentTransferEncoded></edXML:Attachment></edXML:AttachmentEncoded>"

static void test_refuse_attachments(void)
{
	lt_err err;
	char *s = mini("000.00.00.G22", TO1, "", "", ATT("aGVsbG8gd29y\nbGQ="));
	CHECK_OK(read_text(s, &cfg, &err), err);
	free(s);
	refused_mini(mini("000.00.00.G22", TO1, "", "", ATT("aGVs*G8=")),
	             "attachment 1: ContentTransferEncoded is not valid base64");
	refused_mini(mini("000.00.00.G22", TO1, "", "", ATT("aGVsbG8gd29")),
	             "ends in the middle of a base64 group");
	struct lt_config small = cfg;
	small.max_document_bytes = 5;
	s = mini("000.00.00.G22", TO1, "", "", ATT("aGVsbG8gd29y\nbGQ="));
	CHECK(read_text(s, &small, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "the attachments decode to more than max_document_bytes (5)");
	free(s);
	small = cfg;
	small.max_parts = 1;
	struct lt_edxml_doc d;
	struct parts p = {.n = 0};
	int fd = open(FIX "new_decision.xml", O_RDONLY);
	CHECK(lt_edxml_read(fd, "new_decision.xml", &small, open_part, &p, &d, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "more than 1 attachments (max_parts)");
	close(fd);
	parts_close(&p);
	/* input larger than 3/2 of max_document_bytes plus 16 MiB */
	small = cfg;
	small.max_document_bytes = 0;
	size_t big = (17u << 20);
	char *text = malloc(big + 1);
	memset(text, ' ', big);
	static const char open_tag[] = "<edXML:edXML xmlns:edXML=\"" LT_EDXML_NS "\">";
	memcpy(text, open_tag, strlen(open_tag));
	text[big] = '\0';
	CHECK(read_text(text, &small, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "the message is larger than 16777216 bytes");
	free(text);
}

/* ---- status messages ---- */

static void test_status(void)
{
	static const char *codes[] = {"01", "02", "03", "04", "05", "06", "13", "15", "16"};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		char path[128], out[128], rb[256], desc[128];
		struct lt_edxml_status st, st2;
		lt_err err;
		snprintf(path, sizeof path, FIX "status_%s.xml", codes[i]);
		int fd = open(path, O_RDONLY);
		int rc = lt_edxml_status_read(fd, path, &cfg, &st, &err);
		close(fd);
		if (!CHECK_OK(rc, err))
			continue;
		CHECK(strcmp(st.code, codes[i]) == 0);
		CHECK(strcmp(st.from.organ_id, "000.00.01.H26") == 0);
		CHECK(strcmp(st.from.organ_name, "Ủy ban nhân dân thành phố Hà Nội") == 0);
		CHECK(st.from.fax != NULL && st.from.fax[0] == '\0');
		CHECK(strcmp(st.rf_organ_id, "000.00.00.G22") == 0);
		CHECK(strcmp(st.rf_code, "12/QĐ-TTg") == 0);
		CHECK(strcmp(st.rf_promulgation_date, "2026/11/20") == 0);
		CHECK(strcmp(st.rf_document_id, "000.00.00.G22,2026/11/20,12/QĐ-TTg") == 0);
		CHECK(strcmp(st.staff, "Lê Văn Bình") == 0);
		CHECK(strcmp(st.timestamp, "2026/11/20 09:30:00") == 0);
		snprintf(desc, sizeof desc, " <mã %s>", codes[i]);
		CHECK(strstr(st.description, desc) != NULL);
		CHECK(strcmp(lt_edxml_status_reported_by(&st, rb, sizeof rb),
		             "Lê Văn Bình, Văn phòng UBND, binh.lv@hanoi.gov.vn, 0987 654 321") ==
		      0);
		/* written and read back: the same fields */
		snprintf(out, sizeof out, "%s/status.xml", tmp);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		rc = lt_edxml_status_write(fd, &st, &err);
		close(fd);
		if (CHECK_OK(rc, err)) {
			fd = open(out, O_RDONLY);
			rc = lt_edxml_status_read(fd, out, &cfg, &st2, &err);
			close(fd);
			if (CHECK_OK(rc, err)) {
				CHECK(strcmp(st2.code, st.code) == 0);
				CHECK(strcmp(st2.description, st.description) == 0);
				CHECK(strcmp(st2.staff_mobile, st.staff_mobile) == 0);
				CHECK(strcmp(st2.from.website, st.from.website) == 0);
				CHECK(strcmp(st2.rf_document_id, st.rf_document_id) == 0);
				CHECK(strcmp(st2.timestamp, st.timestamp) == 0);
				lt_edxml_status_free(&st2);
			}
		}
		lt_edxml_status_free(&st);
	}
}

static void test_status_refusals(void)
{
	char text[2048], ts[20];
	struct lt_edxml_status st;
	lt_err err;
	static const char head[] = "<edXML:Status xmlns:edXML=\"" LT_EDXML_NS "\"><edXML:Header>"
	                           "<edXML:MessageStatus>";
	snprintf(text, sizeof text,
	         "%s<edXML:From><edXML:OrganId>000.00.01.H26</edXML:OrganId></edXML:From>"
	         "<edXML:ResponseFor><edXML:DocumentId>d</edXML:DocumentId></edXML:ResponseFor>"
	         "<edXML:StatusCode>07</edXML:StatusCode></edXML:MessageStatus></edXML:Header>"
	         "</edXML:Status>",
	         head);
	CHECK(lt_edxml_status_read_mem((const uint8_t *)text, strlen(text), "s.xml", &cfg, &st,
	                               &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "s.xml line 1: StatusCode '07' is not an edXML status code: "
	                            "use 01 to 06, 13, 15 or 16");
	snprintf(text, sizeof text,
	         "%s<edXML:ResponseFor><edXML:DocumentId>d</edXML:DocumentId></edXML:ResponseFor>"
	         "<edXML:StatusCode>01</edXML:StatusCode></edXML:MessageStatus></edXML:Header>"
	         "</edXML:Status>",
	         head);
	CHECK(lt_edxml_status_read_mem((const uint8_t *)text, strlen(text), "s.xml", &cfg, &st,
	                               &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "no From/OrganId");
	snprintf(text, sizeof text,
	         "%s<edXML:From><edXML:OrganId>000.00.01.H26</edXML:OrganId></edXML:From>"
	         "<edXML:ResponseFor><edXML:DocumentId>d</edXML:DocumentId></edXML:ResponseFor>"
	         "</edXML:MessageStatus></edXML:Header></edXML:Status>",
	         head);
	CHECK(lt_edxml_status_read_mem((const uint8_t *)text, strlen(text), "s.xml", &cfg, &st,
	                               &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "no StatusCode");
	/* document elements inside a status message are not its own: ignored */
	snprintf(text, sizeof text,
	         "%s<edXML:From><edXML:OrganId>000.00.01.H26</edXML:OrganId></edXML:From>"
	         "<edXML:ResponseFor><edXML:DocumentId>d</edXML:DocumentId></edXML:ResponseFor>"
	         "<edXML:AttachmentEncoded><edXML:Attachment><edXML:ContentTransferEncoded>aGk="
	         "</edXML:ContentTransferEncoded></edXML:Attachment></edXML:AttachmentEncoded>"
	         "<edXML:To><edXML:X>1</edXML:X></edXML:To>"
	         "<edXML:StatusCode>03</edXML:StatusCode></edXML:MessageStatus></edXML:Header>"
	         "</edXML:Status>",
	         head);
	if (CHECK_OK(lt_edxml_status_read_mem((const uint8_t *)text, strlen(text), "s.xml", &cfg,
	                                      &st, &err),
	             err)) {
		CHECK(strcmp(st.code, "03") == 0);
		lt_edxml_status_free(&st);
	}
	/* a document is not a status */
	int fd = open(FIX "revoke.xml", O_RDONLY);
	CHECK(lt_edxml_status_read(fd, "revoke.xml", &cfg, &st, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "the root element is edXML");
	close(fd);
	/* writing refuses a bad code */
	memset(&st, 0, sizeof st);
	st.from.organ_id = "000.00.01.H26";
	st.rf_document_id = "d";
	memcpy(st.code, "14", 3);
	fd = open("/dev/null", O_WRONLY);
	CHECK(lt_edxml_status_write(fd, &st, &err) == -1);
	CHECK_STR_CONTAINS(err.msg, "StatusCode '14' is not an edXML status code");
	close(fd);
	CHECK(strcmp(lt_edxml_timestamp(1764318600000LL, ts), "2025/11/28 15:30:00") == 0);
}

/* Makes path look older than the sweep's grace period. */
static void age(const char *path)
{
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= 2 * LT_EDXML_IN_TMP_GRACE_S;
	tv[1] = tv[0];
	utimes(path, tv);
}

/*
 * The decoding folders of uploads (edxml-tmp.*): one an upload holds is
 * kept, one left by an upload that ended is removed with what it holds, a
 * young one is kept (being created), other names are never touched.
 */
static void test_tmp_sweep(void)
{
	char dd[128], held[256], left[256], young[256], other[256], file[300];
	int lock = -1;
	size_t removed = 99;
	lt_err err;
	snprintf(dd, sizeof dd, "%s/sweep", tmp);
	CHECK(mkdir(dd, 0700) == 0);
	CHECK_OK(lt_edxml_in_tmpdir(dd, held, sizeof held, &lock, &err), err);
	CHECK(lock >= 0);
	snprintf(left, sizeof left, "%s/edxml-tmp.LEFT01", dd);
	snprintf(young, sizeof young, "%s/edxml-tmp.YOUNG1", dd);
	snprintf(other, sizeof other, "%s/keep-tmp.OTHER1", dd);
	CHECK(mkdir(left, 0700) == 0 && mkdir(young, 0700) == 0 && mkdir(other, 0700) == 0);
	snprintf(file, sizeof file, "%s/0", left);
	CHECK(mkdir(file, 0700) == 0);
	age(held);
	age(left);
	age(other);
	CHECK_OK(lt_edxml_in_sweep(dd, &removed, &err), err);
	CHECK(removed == 1);
	CHECK(access(left, F_OK) != 0);
	CHECK(access(held, F_OK) == 0);
	CHECK(access(young, F_OK) == 0);
	CHECK(access(other, F_OK) == 0);
	/* The upload ended without removing its folder (killed): now it goes. */
	close(lock);
	CHECK_OK(lt_edxml_in_sweep(dd, &removed, &err), err);
	CHECK(removed == 1);
	CHECK(access(held, F_OK) != 0);
}

int main(void)
{
	static const char text[] = "agency_code = 000.00.00.G22\n"
	                           "data_dir = /nonexistent\n"
	                           "key_file = k\ncert_file = c\nca_file = a\n"
	                           "target_dir = /nonexistent\n";
	lt_err err;
	if (lt_config_parse(&cfg, "test.conf", text, strlen(text), &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	snprintf(tmp, sizeof tmp, "/tmp/lt-edxml.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return 1;
	LT_RUN(test_read_new);
	LT_RUN(test_read_update);
	LT_RUN(test_read_revoke_replace);
	LT_RUN(test_round_trips);
	LT_RUN(test_round_trip_corners);
	LT_RUN(test_through_envelope);
	LT_RUN(test_write_escaping);
	LT_RUN(test_write_refusals);
	LT_RUN(test_large_attachment);
	LT_RUN(test_mini_accepted);
	LT_RUN(test_refuse_doctype);
	LT_RUN(test_refuse_structure);
	LT_RUN(test_refuse_signature);
	LT_RUN(test_refuse_from_to);
	LT_RUN(test_refuse_business);
	LT_RUN(test_refuse_attachments);
	LT_RUN(test_status);
	LT_RUN(test_status_refusals);
	LT_RUN(test_tmp_sweep);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	lt_config_free(&cfg);
	return lt_check_summary();
}
