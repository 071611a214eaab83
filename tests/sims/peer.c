/* The scripted switch of the simulator tests (peer.h). */
#include "peer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "simtest.h"

static void send_framed(int fd, struct iso_msg *m, const pc_key *tak)
{
	uint8_t out[1024];
	size_t len;
	assert_int_equal(tl_pack_mac(tak, ISO_ASCII87, m, out + 2, sizeof out - 2, &len), 0);
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	assert_int_equal(write(fd, out, len + 2), (ssize_t)(len + 2));
}

static bool read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* Answers with the request's MTI + 10 and its DE 7, 11, 41, 70; DE 39 00;
 * with `amounts`, DE 28 and DE 54 as peer.h says; MACed under `tak` when
 * given. */
static void answer(int fd, const struct iso_msg *req, const char *stan, bool amounts, const pc_key *tak)
{
	struct iso_msg a;
	char mti[5];
	memcpy(mti, req->mti, 4);
	mti[2] = (char)(mti[2] + 1);
	mti[3] = '0';
	mti[4] = '\0';
	iso_init(&a, mti);
	for (unsigned de = 2; de <= 128; de++)
		if (iso_has(req, de) && (de == 7 || de == 41 || de == 70))
			assert_int_equal(iso_set_view(&a, de, &req->f[de]), 0);
	assert_int_equal(iso_set_str(&a, 11, stan), 0);
	assert_int_equal(iso_set_str(&a, 39, "00"), 0);
	if (amounts) {
		assert_int_equal(iso_set_str(&a, 28, "D00000500"), 0);
		assert_int_equal(iso_set_str(&a, 54, "0001840C0000004980000002840D000000001000"), 0);
	}
	send_framed(fd, &a, tak);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	int fd = accept(p->lfd, NULL, NULL);
	uint8_t hdr[2], buf[1024];
	pc_key other = p->tak; /* for ANSWER_WRONG_MAC */
	other.b[0] ^= 0x06;    /* two key bits: parity kept */
	while (fd >= 0 && p->n < PEER_MAX && read_full(fd, hdr, 2)) {
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		struct iso_msg m;
		if (len > sizeof buf || !read_full(fd, buf, len) ||
		    iso_unpack(ISO_ASCII87, buf, len, &m, NULL) != 0)
			break;
		unsigned i = p->n++;
		memcpy(p->seen[i], m.mti, 4);
		iso_get(&m, 11, p->stan[i], sizeof p->stan[i]);
		if (iso_get(&m, 90, p->de90[i], sizeof p->de90[i]) < 0)
			p->de90[i][0] = '\0';
		char *f = p->fields[i];
		size_t k = 0;
		for (unsigned de = 2; de <= 128 && k < sizeof p->fields[i] - 5; de++)
			if (de != 65 && iso_has(&m, de))
				k += (size_t)snprintf(f + k, sizeof p->fields[i] - k, "%s%u", k ? "," : "", de);
		if (p->act[i] == CLOSE)
			break;
		const pc_key *key = NULL;
		if (p->act[i] == ANSWER_MACED)
			key = &p->tak;
		else if (p->act[i] == ANSWER_WRONG_MAC)
			key = &other;
		if (p->act[i] == UNRELATED_FIRST)
			answer(fd, &m, "999999", false, NULL);
		if (p->act[i] != SILENT)
			answer(fd, &m, p->stan[i], p->act[i] == ANSWER_AMOUNTS, key);
	}
	/* Past the last scripted message: silent until the terminal hangs up. */
	while (fd >= 0 && p->n == PEER_MAX && read(fd, buf, sizeof buf) > 0)
		;
	if (fd >= 0)
		close(fd);
	return NULL;
}

tl_term *peer_start(struct peer *p, pthread_t *th)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	p->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(p->lfd, 1), 0);
	assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&sa, &sl), 0);
	p->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(th, NULL, peer_main, p), 0);
	struct tl_config cfg = {.host = "127.0.0.1", .port = p->port, .profile = ISO_ASCII87,
	                        .framing = ISO_FRAME_BIN2, .timeout_ms = 300,
	                        .terminal_id = "ATM00001", .acquirer_id = "00000000001"};
	int err;
	tl_term *t = tl_new(&cfg, &err);
	assert_non_null(t);
	assert_int_equal(tl_connect(t), 0);
	return t;
}

void peer_stop(struct peer *p, pthread_t th, tl_term *t)
{
	tl_free(t);
	pthread_join(th, NULL);
	close(p->lfd);
}
