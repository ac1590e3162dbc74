/*
 * lt-tamper: a test tool that plays a relay gone bad. It reads a topic on
 * one cluster, finds the record of one document (an envelope, or a receipt
 * about it), alters it and writes the altered record to a topic on another
 * cluster, as a relay would carry it.
 *
 *   lt-tamper --from HOST:PORT --from-topic T --to HOST:PORT --to-topic T --id DOCUMENT_ID
 *
 * An envelope gets one byte of its first part's data changed; a receipt gets
 * another reason and status (its signature kept). Exits 0 once the altered
 * record is acknowledged, 1 when no such record came within 60 s.
 */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lienthong.pb-c.h"

static rd_kafka_t *lt_tamper_client(rd_kafka_type_t type, const char *bootstrap)
{
	char errstr[256], group[64];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	snprintf(group, sizeof group, "lt-tamper-%ld-%d", (long)time(NULL), (int)getpid());
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
	if (type == RD_KAFKA_CONSUMER) {
		rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
		rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr);
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
	if (rk == NULL)
		fprintf(stderr, "lt-tamper: %s\n", errstr);
	return rk;
}

/* The altered value of a record about id, or NULL when the record is not about it. */
static uint8_t *lt_tamper_alter(const rd_kafka_message_t *m, const char *id, size_t *len)
{
	uint8_t *out = NULL;
	Lienthong__Envelope *env = lienthong__envelope__unpack(NULL, m->len, m->payload);
	if (env != NULL && env->header != NULL && strcmp(env->header->document_id, id) == 0 &&
	    env->n_parts > 0 && env->parts[0]->data.len > 0) {
		env->parts[0]->data.data[0] ^= 0x01;
		*len = lienthong__envelope__get_packed_size(env);
		if ((out = malloc(*len)) != NULL)
			lienthong__envelope__pack(env, out);
		lienthong__envelope__free_unpacked(env, NULL);
		return out;
	}
	if (env != NULL)
		lienthong__envelope__free_unpacked(env, NULL);
	Lienthong__Receipt *r = lienthong__receipt__unpack(NULL, m->len, m->payload);
	if (r != NULL && r->signature != NULL && strcmp(r->document_id, id) == 0 &&
	    r->status != LIENTHONG__RECEIPT_STATUS__RECEIPT_HOP) {
		char *old = r->reason;
		r->reason = "tampered in transit";
		r->status = LIENTHONG__RECEIPT_STATUS__RECEIPT_REJECTED;
		*len = lienthong__receipt__get_packed_size(r);
		if ((out = malloc(*len)) != NULL)
			lienthong__receipt__pack(r, out);
		r->reason = old;
	}
	if (r != NULL)
		lienthong__receipt__free_unpacked(r, NULL);
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"from", required_argument, NULL, 'f'}, {"from-topic", required_argument, NULL, 'F'},
	    {"to", required_argument, NULL, 't'},   {"to-topic", required_argument, NULL, 'T'},
	    {"id", required_argument, NULL, 'i'},   {NULL, 0, NULL, 0}};
	const char *from = NULL, *from_topic = NULL, *to = NULL, *to_topic = NULL, *id = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 'F':
			from_topic = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'T':
			to_topic = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!from || !from_topic || !to || !to_topic || !id) {
		fprintf(stderr,
		        "usage: lt-tamper --from B --from-topic T --to B --to-topic T --id ID\n");
		return 2;
	}
	rd_kafka_t *cons = lt_tamper_client(RD_KAFKA_CONSUMER, from);
	rd_kafka_t *prod = lt_tamper_client(RD_KAFKA_PRODUCER, to);
	if (cons == NULL || prod == NULL)
		return 1;
	rd_kafka_poll_set_consumer(cons);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, from_topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(cons, list);
	rd_kafka_topic_partition_list_destroy(list);
	int rc = 1;
	time_t until = time(NULL) + 60;
	while (rc != 0 && time(NULL) < until) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 500);
		if (m == NULL)
			continue;
		size_t len = 0;
		uint8_t *v =
		    m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? lt_tamper_alter(m, id, &len) : NULL;
		if (v != NULL) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    prod, RD_KAFKA_V_TOPIC(to_topic), RD_KAFKA_V_KEY(m->key, m->key_len),
			    RD_KAFKA_V_VALUE(v, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_END);
			free(v);
			if (e == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_flush(prod, 30000) == 0) {
				printf("altered a record of %s from %s into %s\n", id, from_topic,
				       to_topic);
				rc = 0;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	rd_kafka_destroy(prod);
	if (rc != 0)
		fprintf(stderr, "lt-tamper: no record of %s in %s within 60 s\n", id, from_topic);
	return rc;
}
