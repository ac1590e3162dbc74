/*
 * lt-stream: puts a large (streamed) document into an agency's outbox, as
 * lienthong-upload will: the file is copied into the spool
 * (<data_dir>/spool/<document id>/0, fsync'd), hashed chunk by chunk while
 * copied (one chunk of memory), the manifest sealed with the agency's key
 * (one streamed part of chunk_bytes chunks) and submitted with lt_submit in
 * the agency's store (the agent, running or not, forwards it). Prints the
 * document id. A test tool (tests/integration/large_forward.sh).
 *
 *   lt-stream -c SENDER.conf --to CODE FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../clock/lt_clock.h"
#include "../../log/lt_log.h"
#include "../../producers/lt_submit.h"
#include "../../proto/lt_envelope.h"

/* Creates dir (mode 0700) unless it exists. */
static int lt_stream_mkdir(const char *dir, lt_err *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return lt_err_set(err, LT_EIO, "cannot create %s: %s", dir, strerror(errno));
	return 0;
}

/*
 * Copies path into the spool file of document id, part 0; fills size, sha
 * and *chunk_sha (malloc'd, 32 bytes per chunk of chunk_bytes).
 */
static int lt_stream_spool(const struct lt_config *cfg, const char *id, const char *path,
                           uint32_t chunk_bytes, uint64_t *size, uint8_t sha[LT_DIGEST_LEN],
                           uint8_t **chunk_sha, lt_err *err)
{
	char dir[PATH_MAX], file[PATH_MAX];
	uint8_t *buf = malloc(chunk_bytes);
	EVP_MD_CTX *all = EVP_MD_CTX_new();
	int in = -1, out = -1, rc = -1;
	size_t n_chunks = 0, cap = 0;
	*size = 0;
	*chunk_sha = NULL;
	if (buf == NULL || all == NULL || EVP_DigestInit_ex(all, EVP_sha256(), NULL) != 1) {
		lt_err_set(err, LT_EIO, "out of memory");
		goto out;
	}
	snprintf(dir, sizeof dir, "%s/spool", cfg->data_dir);
	if (lt_stream_mkdir(dir, err) != 0)
		goto out;
	snprintf(dir, sizeof dir, "%s/spool/%s", cfg->data_dir, id);
	snprintf(file, sizeof file, "%s/0", dir);
	if (lt_stream_mkdir(dir, err) != 0)
		goto out;
	if ((in = open(path, O_RDONLY)) < 0 ||
	    (out = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		lt_err_set(err, LT_EIO, "cannot open %s: %s", in < 0 ? path : file,
		           strerror(errno));
		goto out;
	}
	for (;;) {
		size_t got = 0;
		while (got < chunk_bytes) {
			ssize_t r = read(in, buf + got, chunk_bytes - got);
			if (r < 0) {
				lt_err_set(err, LT_EIO, "reading %s: %s", path, strerror(errno));
				goto out;
			}
			if (r == 0)
				break;
			got += (size_t)r;
		}
		if (got == 0)
			break;
		if (n_chunks == cap) {
			cap = cap ? 2 * cap : 64;
			uint8_t *grown = realloc(*chunk_sha, cap * LT_DIGEST_LEN);
			if (grown == NULL) {
				lt_err_set(err, LT_EIO, "out of memory");
				goto out;
			}
			*chunk_sha = grown;
		}
		EVP_Digest(buf, got, *chunk_sha + n_chunks * LT_DIGEST_LEN, NULL, EVP_sha256(),
		           NULL);
		EVP_DigestUpdate(all, buf, got);
		if (write(out, buf, got) != (ssize_t)got) {
			lt_err_set(err, LT_EIO, "writing %s: %s", file, strerror(errno));
			goto out;
		}
		n_chunks++;
		*size += got;
		if (got < chunk_bytes)
			break;
	}
	EVP_DigestFinal_ex(all, sha, NULL);
	if (fsync(out) != 0) {
		lt_err_set(err, LT_EIO, "fsync %s: %s", file, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	EVP_MD_CTX_free(all);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	static struct lt_config cfg;
	const char *config = NULL, *to = NULL;
	struct lt_signer signer = {0};
	struct lt_store *store = NULL;
	uint8_t *env = NULL, *chunk_sha = NULL, sha[LT_DIGEST_LEN], digest[LT_DIGEST_LEN];
	size_t env_len = 0;
	uint64_t size = 0;
	char id[LT_DOCID_LEN + 1];
	lt_err err;
	int rc = 1, c;
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"to", required_argument, NULL, 't'}, {0}};
	lt_log_init(argv[0], LT_LOG_WARN);
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 't')
			to = optarg;
		else
			config = NULL, optind = argc;
	}
	if (config == NULL || to == NULL || optind + 1 != argc) {
		fprintf(stderr, "usage: lt-stream -c SENDER.conf --to CODE FILE\n");
		return 2;
	}
	if (lt_config_load(&cfg, config, &err) != 0 ||
	    lt_signer_load(&signer, cfg.key_file, cfg.cert_file, &err) != 0 ||
	    lt_docid_new(id, &err) != 0 ||
	    lt_store_open(&store, cfg.data_dir, cfg.lmdb_map_size, &err) != 0 ||
	    lt_stream_spool(&cfg, id, argv[optind], (uint32_t)cfg.chunk_bytes, &size, sha,
	                    &chunk_sha, &err) != 0)
		goto fail;
	const char *recipients[] = {to};
	const char *name =
	    strrchr(argv[optind], '/') ? strrchr(argv[optind], '/') + 1 : argv[optind];
	struct lt_part_in part = {.name = name,
	                          .media_type = "application/octet-stream",
	                          .len = size,
	                          .chunk_bytes = (uint32_t)cfg.chunk_bytes,
	                          .sha256 = sha,
	                          .chunk_sha256 = chunk_sha};
	struct lt_envelope_in in = {.document_id = id,
	                            .recipients = recipients,
	                            .n_recipients = 1,
	                            .subject = "streamed by lt-stream",
	                            .created_at_ms = lt_now_ms(),
	                            .parts = &part,
	                            .n_parts = 1};
	if (lt_envelope_seal(&in, &signer, &cfg, &env, &env_len, digest, &err) != 0)
		goto fail;
	struct lt_submit_doc doc = {.document_id = id,
	                            .envelope = env,
	                            .len = env_len,
	                            .digest = digest,
	                            .recipients = recipients,
	                            .n_recipients = 1,
	                            .subject = in.subject};
	if (lt_submit(store, &doc, 1, lt_now_ms(), &err) != 0)
		goto fail;
	printf("%s\n", id);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "lt-stream: %s\n", err.msg);
out:
	lt_store_close(store);
	free(env);
	free(chunk_sha);
	lt_signer_free(&signer);
	lt_config_free(&cfg);
	return rc;
}
