#include "lt_check.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../clock/lt_clock.h"
#include "lienthong.pb-c.h"

/* How to restore, in every refusal below. */
#define LT_CHECK_RESTORE                                                                           \
	"restore data_dir from a backup taken with lienthong-agent --backup (README, 'Backups "    \
	"and damaged stores': stop the agent, move data_dir aside, copy the backup's data.mdb "    \
	"and store-id into a new data_dir, run --check, start the agent)"

/* What the child reports, in memory shared with the parent. */
struct lt_check_shared {
	struct lt_check_result res;
	int db;          /* the database being read */
	uint64_t record; /* records of it read so far */
	int failed;
	char msg[LT_ERR_MSG_MAX];
};

/* The record type of each database's values (NULL: bytes of no fixed form). */
static const ProtobufCMessageDescriptor *lt_check_type(enum lt_db db)
{
	switch (db) {
	case LT_DB_DOCS:
		return &lienthong__envelope__descriptor;
	case LT_DB_STATUS:
		return &lienthong__store__status_record__descriptor;
	case LT_DB_OUTQ:
		return &lienthong__store__out_item__descriptor;
	case LT_DB_INBOX:
		return &lienthong__store__inbox_record__descriptor;
	case LT_DB_QUARANTINE:
		return &lienthong__store__quarantine_record__descriptor;
	case LT_DB_HISTORY:
		return &lienthong__store__history_event__descriptor;
	case LT_DB_BUSINESS:
		return &lienthong__store__business_record__descriptor;
	case LT_DB_DIRECTORY:
	case LT_DB_DIRSEEN:
		return &lienthong__directory_entry__descriptor;
	case LT_DB_RELAYQ:
		return &lienthong__store__relay_item__descriptor;
	default:
		return NULL;
	}
}

static int lt_check_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen,
                        lt_err *err)
{
	struct lt_check_shared *sh = ctx;
	const ProtobufCMessageDescriptor *type = lt_check_type((enum lt_db)sh->db);
	(void)key;
	sh->record++;
	if (klen == 0)
		return lt_err_set(err, LT_EINVAL, "record %llu has an empty key",
		                  (unsigned long long)sh->record);
	if (type != NULL) {
		ProtobufCMessage *m = protobuf_c_message_unpack(type, NULL, vlen, val);
		if (m == NULL)
			return lt_err_set(err, LT_EINVAL,
			                  "record %llu (%zu bytes) does not decode as %s",
			                  (unsigned long long)sh->record, vlen, type->short_name);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

/* The child: opens its own environment and reads everything. */
static void lt_check_child(const char *dir, int64_t map_size, struct lt_check_shared *sh)
{
	struct lt_store *s = NULL;
	struct lt_txn *t = NULL;
	lt_err err;
	sh->db = -1;
	if (lt_store_open(&s, dir, map_size, &err) != 0 || lt_txn_begin(s, 0, &t, &err) != 0)
		goto fail;
	for (int db = 0; db < LT_DB_COUNT; db++) {
		sh->db = db;
		sh->record = 0;
		if (lt_txn_scan(t, (enum lt_db)db, NULL, 0, lt_check_one, sh, &err) != 0)
			goto fail;
		sh->res.records[db] = sh->record;
		sh->res.total += sh->record;
	}
	lt_txn_abort(t);
	lt_store_close(s);
	_exit(0);
fail:
	sh->failed = 1;
	snprintf(sh->msg, sizeof sh->msg, "%s", err.msg);
	_exit(1);
}

int lt_store_check(const char *dir, int64_t map_size, int limit_s, struct lt_check_result *res,
                   lt_err *err)
{
	int64_t start = lt_now_ms();
	struct lt_check_shared *sh =
	    mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return lt_err_errno(err, errno, "cannot map memory to check the store");
	memset(sh, 0, sizeof *sh);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		munmap(sh, sizeof *sh);
		return lt_err_errno(err, errno, "cannot fork to check the store");
	}
	if (pid == 0) {
		alarm((unsigned)limit_s);
		lt_check_child(dir, map_size, sh);
	}
	int status = 0, rc = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	const char *where = sh->db >= 0 && sh->db < LT_DB_COUNT ? lt_db_name(sh->db) : "(opening)";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*res = sh->res;
		res->elapsed_ms = lt_now_ms() - start;
		rc = 0;
	} else if (WIFEXITED(status) && sh->failed) {
		int said = strstr(sh->msg, "restore") != NULL;
		lt_err_set(err, LT_EINVAL, "store %s, database %s: %s%s", dir, where, sh->msg,
		           said ? "" : ": the store is damaged; " LT_CHECK_RESTORE);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
		lt_err_set(err, LT_EINVAL,
		           "store %s: reading database %s took longer than %d s (record %llu): the "
		           "store is probably damaged (a loop in its pages); " LT_CHECK_RESTORE,
		           dir, where, limit_s, (unsigned long long)sh->record);
	} else {
		lt_err_set(
		    err, LT_EINVAL,
		    "store %s: reading database %s crashed (%s) after record %llu: the store "
		    "is damaged; " LT_CHECK_RESTORE,
		    dir, where, WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit",
		    (unsigned long long)sh->record);
	}
	munmap(sh, sizeof *sh);
	return rc;
}

static char lt_check_crash_msg[512];
static size_t lt_check_crash_len;

static void lt_check_on_crash(int sig)
{
	(void)sig;
	/* Only async-signal-safe calls here. */
	ssize_t n = write(STDERR_FILENO, lt_check_crash_msg, lt_check_crash_len);
	(void)n;
	_exit(1);
}

void lt_store_crash_guard(const char *prog)
{
	int n = snprintf(lt_check_crash_msg, sizeof lt_check_crash_msg,
	                 "%s: crashed while reading the store (LMDB assertion, bad memory access "
	                 "or bus error): the store is probably damaged; run lienthong-agent -c "
	                 "FILE --check, and restore data_dir from a backup if it says so (README, "
	                 "'Backups and damaged stores')\n",
	                 prog);
	lt_check_crash_len = n < 0 ? 0
	                     : (size_t)n < sizeof lt_check_crash_msg
	                         ? (size_t)n
	                         : sizeof lt_check_crash_msg - 1;
	struct sigaction sa = {.sa_handler = lt_check_on_crash, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGABRT, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}
