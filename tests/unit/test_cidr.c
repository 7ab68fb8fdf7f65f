// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for agent/signal/cidr.c and the net_<class> keys of agent/config.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "podmeter/cidr.h"
#include "podmeter/config.h"
#include "podmeter/net.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN	      512

/* A network written out by hand, independent of inet_pton. */
struct exp_net {
	int family;
	uint8_t prefix;
	uint8_t addr[16];
};

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/podmeter-test-cidr-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir) ? -1 : 0;
}

/* Write @text to <tmpdir>/@name; the path goes to @path. */
static void tmp_file(char *path, size_t len, const char *name, const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void assert_net(const struct pm_cidr *c, const struct exp_net *e)
{
	if (c->family != e->family || c->prefix != e->prefix ||
	    memcmp(c->addr, e->addr, sizeof(c->addr))) {
		char got[64];

		cidr__format(c, got, sizeof(got));
		fail_msg("got %s (family %d, /%u), want family %d /%u", got, c->family, c->prefix,
			 e->family, e->prefix);
	}
}

static void assert_has(const char *msg, const char *sub)
{
	if (!strstr(msg, sub))
		fail_msg("message \"%s\" lacks \"%s\"", msg, sub);
}

/* cidr__parse */

static const struct {
	const char *in;
	struct exp_net want;
	const char *fmt; /* cidr__format of the result */
} good_cases[] = {
	{ "10.0.0.0/8", { AF_INET, 8, { 10 } }, "10.0.0.0/8" },
	{ "192.168.1.0/24", { AF_INET, 24, { 192, 168, 1 } }, "192.168.1.0/24" },
	{ "0.0.0.0/0", { AF_INET, 0, { 0 } }, "0.0.0.0/0" },
	{ "1.2.3.4", { AF_INET, 32, { 1, 2, 3, 4 } }, "1.2.3.4/32" },
	{ "1.2.3.4/32", { AF_INET, 32, { 1, 2, 3, 4 } }, "1.2.3.4/32" },
	{ "255.255.255.255/32", { AF_INET, 32, { 255, 255, 255, 255 } }, "255.255.255.255/32" },
	{ "172.16.0.0/12", { AF_INET, 12, { 172, 16 } }, "172.16.0.0/12" },
	/* strtol reads base 10: a leading zero is not octal */
	{ "10.0.0.0/08", { AF_INET, 8, { 10 } }, "10.0.0.0/8" },
	{ "fd00::/8", { AF_INET6, 8, { 0xfd } }, "fd00::/8" },
	{ "::1", { AF_INET6, 128, { [15] = 1 } }, "::1/128" },
	{ "2001:db8::/32", { AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 } }, "2001:db8::/32" },
	{ "2001:0DB8:0000::/32", { AF_INET6, 32, { 0x20, 0x01, 0x0d, 0xb8 } }, "2001:db8::/32" },
	{ "::/0", { AF_INET6, 0, { 0 } }, "::/0" },
	{ "fe80::/10", { AF_INET6, 10, { 0xfe, 0x80 } }, "fe80::/10" },
	{ "::ffff:10.0.0.0/104",
	  { AF_INET6, 104, { [10] = 0xff, [11] = 0xff, [12] = 10 } },
	  "::ffff:10.0.0.0/104" },
};

static void test_parse_good(void **state)
{
	char why[128], buf[64];
	struct pm_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good_cases); i++) {
		strcpy(why, "untouched");
		if (cidr__parse(good_cases[i].in, &c, why, sizeof(why)))
			fail_msg("\"%s\": %s", good_cases[i].in, why);
		assert_net(&c, &good_cases[i].want);
		cidr__format(&c, buf, sizeof(buf));
		assert_string_equal(buf, good_cases[i].fmt);
	}
}

/* What cidr__format writes parses back to the same network. */
static void test_format_round_trip(void **state)
{
	struct pm_cidr c, back;
	char why[128], buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good_cases); i++) {
		assert_int_equal(cidr__parse(good_cases[i].in, &c, why, sizeof(why)), 0);
		cidr__format(&c, buf, sizeof(buf));
		if (cidr__parse(buf, &back, why, sizeof(why)))
			fail_msg("\"%s\" -> \"%s\": %s", good_cases[i].in, buf, why);
		assert_int_equal(back.family, c.family);
		assert_int_equal(back.prefix, c.prefix);
		assert_memory_equal(back.addr, c.addr, sizeof(c.addr));
	}
}

static void test_format_truncates(void **state)
{
	struct pm_cidr c;
	char why[128], buf[8];

	(void)state;
	assert_int_equal(cidr__parse("192.168.1.0/24", &c, why, sizeof(why)), 0);
	memset(buf, 'x', sizeof(buf));
	cidr__format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "192.168");
}

static const struct {
	const char *in;
	const char *why; /* part of the message */
} bad_cases[] = {
	{ "10.0.0.1/8", "host bits set" },
	{ "10.128.0.0/8", "host bits set" },
	{ "192.168.1.1/24", "host bits set" },
	{ "1.0.0.0/0", "host bits set" },
	{ "fd00::1/8", "host bits set" },
	{ "fe80::/8", "host bits set" },
	{ "::1/127", "host bits set" },
	{ "10.0.0.0/33", "prefix length must be 0-32" },
	{ "fd00::/129", "prefix length must be 0-128" },
	{ "10.0.0.0/-1", "prefix length must be 0-32" },
	{ "fd00::/-1", "prefix length must be 0-128" },
	{ "10.0.0.0/", "prefix length must be 0-32" },
	{ "10.0.0.0/8x", "prefix length must be 0-32" },
	{ "10.0.0.0/+8", "prefix length must be 0-32" },
	{ "10.0.0.0/ 8", "prefix length must be 0-32" },
	{ "10.0.0.0/8 ", "prefix length must be 0-32" },
	{ "10.0.0.0/8/9", "prefix length must be 0-32" },
	{ "10.0.0.0/99999999999999999999", "prefix length must be 0-32" },
	{ "abc", "not an IPv4 or IPv6 CIDR" },
	{ "10.0.0/8", "not an IPv4 or IPv6 CIDR" },
	{ "10.0.0.256/32", "not an IPv4 or IPv6 CIDR" },
	{ "", "not an IPv4 or IPv6 CIDR" },
	{ "/8", "not an IPv4 or IPv6 CIDR" },
	{ " 10.0.0.0/8", "not an IPv4 or IPv6 CIDR" },
	{ "fe80::1%eth0", "not an IPv4 or IPv6 CIDR" },
	{ "fd00:::/8", "not an IPv4 or IPv6 CIDR" },
};

static void test_parse_bad(void **state)
{
	char why[128];
	struct pm_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		why[0] = '\0';
		if (cidr__parse(bad_cases[i].in, &c, why, sizeof(why)) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad_cases[i].in);
		assert_has(why, bad_cases[i].why);
		/* the message names the value */
		assert_has(why, bad_cases[i].in);
	}
}

static void test_parse_too_long(void **state)
{
	char s[200], why[128];
	struct pm_cidr c;

	(void)state;
	/* well-formed to inet_pton and strtol, but longer than the 64-byte buffer */
	strcpy(s, "0000:0000:0000:0000:0000:0000:0000:0000/0000000000000000000000000000128");
	assert_int_equal(cidr__parse(s, &c, why, sizeof(why)), -EINVAL);
	assert_has(why, "too long");
	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(cidr__parse(s, &c, why, sizeof(why)), -EINVAL);
	assert_has(why, "too long");
	/* the longest real one still fits */
	assert_int_equal(cidr__parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", &c, why,
				     sizeof(why)),
			 0);
	assert_int_equal(c.prefix, 128);
}

/* cidr__parse_list */

static const struct {
	const char *in;
	int max;
	int ret;
	int n; /* entries on success */
	struct exp_net want[3];
	const char *why; /* part of the message on failure */
} list_cases[] = {
	{ .in = "10.0.0.0/8, 192.168.0.0/16",
	  .max = 8,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET, 16, { 192, 168 } } } },
	{ .in = "  10.0.0.0/8 ,fd00::/8  ",
	  .max = 8,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET6, 8, { 0xfd } } } },
	{ .in = "10.0.0.0/8\t, \t1.2.3.4",
	  .max = 8,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET, 32, { 1, 2, 3, 4 } } } },
	{ .in = "10.0.0.0/8,", .max = 8, .n = 1, .want = { { AF_INET, 8, { 10 } } } },
	{ .in = ",10.0.0.0/8,,::1,",
	  .max = 8,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET6, 128, { [15] = 1 } } } },
	{ .in = "", .max = 8 },
	{ .in = "   ", .max = 8 },
	{ .in = ",", .max = 8 },
	/* overlapping, different prefixes: two networks */
	{ .in = "10.0.0.0/8,10.0.0.0/16",
	  .max = 8,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET, 16, { 10 } } } },
	{ .in = "10.0.0.0/8,192.168.0.0/16",
	  .max = 2,
	  .n = 2,
	  .want = { { AF_INET, 8, { 10 } }, { AF_INET, 16, { 192, 168 } } } },
	{ .in = "10.0.0.0/8, 10.0.0.0/8",
	  .max = 8,
	  .ret = -EEXIST,
	  .why = "10.0.0.0/8 is given twice" },
	{ .in = "fd00::/8, FD00:0::/8", .max = 8, .ret = -EEXIST, .why = "given twice" },
	{ .in = "10.0.0.0/8,10.0.0.0/08", .max = 8, .ret = -EEXIST, .why = "given twice" },
	{ .in = "1.0.0.0/8,2.0.0.0/8,3.0.0.0/8",
	  .max = 2,
	  .ret = -E2BIG,
	  .why = "more than 2 CIDRs" },
	{ .in = "1.0.0.0/8", .max = 0, .ret = -E2BIG, .why = "more than 0 CIDRs" },
	{ .in = "10.0.0.0/8,abc", .max = 8, .ret = -EINVAL, .why = "\"abc\"" },
	{ .in = "10.0.0.1/8", .max = 8, .ret = -EINVAL, .why = "\"10.0.0.1/8\" has host bits set" },
	/* only ',' and blanks separate: the rest is read as the prefix */
	{ .in = "10.0.0.0/8;192.168.0.0/16",
	  .max = 8,
	  .ret = -EINVAL,
	  .why = "prefix length must be 0-32" },
	{ .in = "10.0.0.0/8,"
		"1111111111111111111111111111111111111111111111111111111111111111111111",
	  .max = 8,
	  .ret = -EINVAL,
	  .why = "too long" },
};

static void test_parse_list(void **state)
{
	struct pm_cidr out[8];
	char why[256];
	size_t i;
	int j, n, ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(list_cases); i++) {
		n = 0;
		why[0] = '\0';
		ret = cidr__parse_list(list_cases[i].in, PM_NET_CROSS_ZONE, out, list_cases[i].max,
				       &n, why, sizeof(why));
		if (ret != list_cases[i].ret)
			fail_msg("\"%s\": got %d, want %d (%s)", list_cases[i].in, ret,
				 list_cases[i].ret, why);
		if (ret) {
			assert_has(why, list_cases[i].why);
			continue;
		}
		assert_int_equal(n, list_cases[i].n);
		for (j = 0; j < n; j++) {
			assert_net(&out[j], &list_cases[i].want[j]);
			assert_int_equal(out[j].class, PM_NET_CROSS_ZONE);
		}
	}
}

/* A list appends after what @out already holds and checks against it. */
static void test_parse_list_appends(void **state)
{
	static const struct exp_net ten = { AF_INET, 8, { 10 } };
	static const struct exp_net v6 = { AF_INET6, 8, { 0xfd } };
	struct pm_cidr out[4];
	char why[256];
	int n = 0;

	(void)state;
	assert_int_equal(
		cidr__parse_list("10.0.0.0/8", PM_NET_IN_ZONE, out, 4, &n, why, sizeof(why)), 0);
	assert_int_equal(
		cidr__parse_list("fd00::/8", PM_NET_INTERNET, out, 4, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_net(&out[0], &ten);
	assert_int_equal(out[0].class, PM_NET_IN_ZONE);
	assert_net(&out[1], &v6);
	assert_int_equal(out[1].class, PM_NET_INTERNET);
	assert_int_equal(cidr__parse_list("10.0.0.0/8", PM_NET_LOCAL, out, 4, &n, why, sizeof(why)),
			 -EEXIST);
	assert_int_equal(n, 2);
	assert_int_equal(cidr__find(out, n, &out[0]), 0);
	assert_int_equal(cidr__find(out, n, &out[1]), 1);
	assert_int_equal(cidr__find(out, 1, &out[1]), -1);
}

/* cidr__defaults, against the registries: RFC 1122, 4291, 1918, 6598, 3927, 4193, 4291 */

static const struct {
	struct exp_net net;
	int class;
} default_nets[] = {
	{ { AF_INET, 8, { 127 } }, PM_NET_LOCAL },
	{ { AF_INET6, 128, { [15] = 1 } }, PM_NET_LOCAL },
	{ { AF_INET, 8, { 10 } }, PM_NET_IN_ZONE },
	{ { AF_INET, 12, { 172, 16 } }, PM_NET_IN_ZONE },
	{ { AF_INET, 16, { 192, 168 } }, PM_NET_IN_ZONE },
	{ { AF_INET, 10, { 100, 64 } }, PM_NET_IN_ZONE },
	{ { AF_INET, 16, { 169, 254 } }, PM_NET_IN_ZONE },
	{ { AF_INET6, 7, { 0xfc } }, PM_NET_IN_ZONE },
	{ { AF_INET6, 10, { 0xfe, 0x80 } }, PM_NET_IN_ZONE },
};

static void test_defaults(void **state)
{
	struct pm_cidr out[16];
	size_t i;
	int n, j, found;

	(void)state;
	n = cidr__defaults(out, ARRAY_SIZE(out));
	assert_int_equal(n, ARRAY_SIZE(default_nets));
	for (i = 0; i < ARRAY_SIZE(default_nets); i++) {
		found = -1;
		for (j = 0; j < n; j++) {
			if (out[j].family == default_nets[i].net.family &&
			    out[j].prefix == default_nets[i].net.prefix &&
			    !memcmp(out[j].addr, default_nets[i].net.addr, 16))
				found = j;
		}
		if (found < 0)
			fail_msg("default %zu (family %d /%u) missing", i,
				 default_nets[i].net.family, default_nets[i].net.prefix);
		assert_int_equal(out[found].class, default_nets[i].class);
	}
}

static void test_defaults_short_room(void **state)
{
	struct pm_cidr out[3];

	(void)state;
	assert_int_equal(cidr__defaults(out, ARRAY_SIZE(out)), 3);
	assert_int_equal(cidr__defaults(out, 0), 0);
}

/* config: net_<class> keys */

/* Index of @e with @class in cfg->net.cidrs, -1 when absent. */
static int cfg_find(const struct pm_config *cfg, const struct exp_net *e, int class)
{
	int i;

	for (i = 0; i < cfg->net.n_cidrs; i++) {
		const struct pm_cidr *c = &cfg->net.cidrs[i];

		if (c->family == e->family && c->prefix == e->prefix &&
		    !memcmp(c->addr, e->addr, 16) && c->class == class)
			return i;
	}
	return -1;
}

static void assert_cfg_has(const struct pm_config *cfg, const struct exp_net *e, int class)
{
	if (cfg_find(cfg, e, class) < 0)
		fail_msg("family %d /%u in class %d is missing (%d CIDRs)", e->family, e->prefix,
			 class, cfg->net.n_cidrs);
}

static const struct exp_net net_10 = { AF_INET, 8, { 10 } };
static const struct exp_net net_10_1 = { AF_INET, 16, { 10, 1 } };
static const struct exp_net net_10_2 = { AF_INET, 16, { 10, 2 } };
static const struct exp_net net_10_3 = { AF_INET, 16, { 10, 3 } };
static const struct exp_net net_10_4 = { AF_INET, 16, { 10, 4 } };
static const struct exp_net net_fd00 = { AF_INET6, 8, { 0xfd } };

static const struct {
	const char *key;
	int class;
} net_keys[] = {
	{ "net_local", PM_NET_LOCAL },
	{ "net_in_zone", PM_NET_IN_ZONE },
	{ "net_cross_zone", PM_NET_CROSS_ZONE },
	{ "net_cross_region", PM_NET_CROSS_REGION },
	{ "net_internet", PM_NET_INTERNET },
	{ "net-local", PM_NET_LOCAL },
	{ "net-in-zone", PM_NET_IN_ZONE },
	{ "net-cross-zone", PM_NET_CROSS_ZONE },
	{ "net-cross-region", PM_NET_CROSS_REGION },
	{ "net-internet", PM_NET_INTERNET },
};

static void test_config_keys(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(net_keys); i++) {
		config__defaults(&cfg);
		assert_int_equal(cfg.net.n_cidrs, 0);
		if (config__set(&cfg, net_keys[i].key, "10.2.0.0/16, fd00::/8", err, sizeof(err)))
			fail_msg("%s: %s", net_keys[i].key, err);
		assert_int_equal(cfg.net.n_cidrs, 2);
		assert_cfg_has(&cfg, &net_10_2, net_keys[i].class);
		assert_cfg_has(&cfg, &net_fd00, net_keys[i].class);
	}
}

static void test_config_replace(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16, 10.3.0.0/16", err,
				     sizeof(err)),
			 0);
	assert_int_equal(cfg.net.n_cidrs, 2);
	assert_cfg_has(&cfg, &net_10_2, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_ZONE);

	/* again: the class's list is replaced, not added to */
	assert_int_equal(config__set(&cfg, "net-cross-zone", "10.4.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, 1);
	assert_cfg_has(&cfg, &net_10_4, PM_NET_CROSS_ZONE);

	/* the same network again in its own class is no conflict */
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.4.0.0/16,10.2.0.0/16", err,
				     sizeof(err)),
			 0);
	assert_int_equal(cfg.net.n_cidrs, 2);

	/* "," is not blank: it empties the class */
	assert_int_equal(config__set(&cfg, "net_cross_zone", ",", err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, 0);
}

static void test_config_two_classes(void **state)
{
	struct pm_config cfg;
	char err[ERRLEN];

	(void)state;
	config__defaults(&cfg);
	/* overlapping networks of different prefixes may be in different classes */
	assert_int_equal(config__set(&cfg, "net_in_zone", "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.1.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, 2);
	assert_cfg_has(&cfg, &net_10, PM_NET_IN_ZONE);
	assert_cfg_has(&cfg, &net_10_1, PM_NET_CROSS_ZONE);

	/* replacing one class leaves the other alone */
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16, 10.3.0.0/16", err,
				     sizeof(err)),
			 0);
	assert_int_equal(cfg.net.n_cidrs, 3);
	assert_cfg_has(&cfg, &net_10, PM_NET_IN_ZONE);
	assert_cfg_has(&cfg, &net_10_2, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_ZONE);
	assert_int_equal(cfg_find(&cfg, &net_10_1, PM_NET_CROSS_ZONE), -1);

	/* a network freed from one class may go to another */
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(config__set(&cfg, "net_cross_region", "10.3.0.0/16", err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, 3);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_REGION);
}

static void test_config_conflict(void **state)
{
	struct pm_config cfg, before;
	char err[ERRLEN];

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16", err, sizeof(err)), 0);
	before = cfg;
	err[0] = '\0';
	assert_int_equal(config__set(&cfg, "net_cross_region", "10.5.0.0/16, 10.2.0.0/16", err,
				     sizeof(err)),
			 -EINVAL);
	assert_has(err, "net_cross_region");
	assert_has(err, "10.2.0.0/16");
	assert_memory_equal(&cfg, &before, sizeof(cfg));

	/* the same network spelled differently is the same network */
	assert_int_equal(config__set(&cfg, "net-internet", "10.2.0.0/016", err, sizeof(err)),
			 -EINVAL);
	assert_has(err, "10.2.0.0/");
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static const struct {
	const char *value;
	const char *why; /* part of the message */
} config_bad[] = {
	{ "10.0.0.1/8", "\"10.0.0.1/8\"" },
	{ "10.0.0.0/8, fd00::1/8", "\"fd00::1/8\"" },
	{ "10.0.0.0/33", "\"10.0.0.0/33\"" },
	{ "abc", "\"abc\"" },
	{ "10.0.0.0/8, 10.0.0.0/8", "given twice" },
	{ "", "empty value" },
	{ "  ", "empty value" },
};

static void test_config_bad(void **state)
{
	struct pm_config cfg, before;
	char err[ERRLEN];
	size_t i;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16", err, sizeof(err)), 0);
	before = cfg;
	for (i = 0; i < ARRAY_SIZE(config_bad); i++) {
		err[0] = '\0';
		if (config__set(&cfg, "net_cross_zone", config_bad[i].value, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("\"%s\" was accepted", config_bad[i].value);
		assert_has(err, "net_cross_zone");
		assert_has(err, config_bad[i].why);
		/* a bad value leaves the class as it was */
		assert_memory_equal(&cfg, &before, sizeof(cfg));
	}
}

static void test_config_too_many(void **state)
{
	static char list[PM_CFG_MAX_CIDRS * 20];
	struct pm_config cfg;
	char err[ERRLEN];
	size_t off = 0;
	int i;

	(void)state;
	for (i = 0; i < PM_CFG_MAX_CIDRS; i++)
		off += snprintf(list + off, sizeof(list) - off, "%s10.%d.%d.0/24", i ? "," : "",
				i / 256, i % 256);
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_internet", list, err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, PM_CFG_MAX_CIDRS);

	/* the room is shared by all classes */
	err[0] = '\0';
	assert_int_equal(config__set(&cfg, "net_local", "192.168.7.0/24", err, sizeof(err)),
			 -EINVAL);
	assert_has(err, "more than 256 CIDRs");
	assert_int_equal(cfg.net.n_cidrs, PM_CFG_MAX_CIDRS);

	/* replacing the full class still fits */
	assert_int_equal(config__set(&cfg, "net_internet", "1.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(cfg.net.n_cidrs, 1);

	snprintf(list + off, sizeof(list) - off, ",11.0.0.0/8");
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_internet", list, err, sizeof(err)), -EINVAL);
	assert_has(err, "more than 256 CIDRs");
	assert_int_equal(cfg.net.n_cidrs, 0);
}

static void test_config_file(void **state)
{
	char path[PATH_MAX], err[ERRLEN];
	struct pm_config cfg;

	(void)state;
	tmp_file(path, sizeof(path), "net.yaml",
		 "interval: 2s\n"
		 "net_cross_zone: \"10.2.0.0/16,10.3.0.0/16\"\n"
		 "net-in-zone: 10.0.0.0/8, fd00::/8\n");
	config__defaults(&cfg);
	if (config__load_file(&cfg, path, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(cfg.collect.interval_ms, 2000);
	assert_int_equal(cfg.net.n_cidrs, 4);
	assert_cfg_has(&cfg, &net_10_2, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10, PM_NET_IN_ZONE);
	assert_cfg_has(&cfg, &net_fd00, PM_NET_IN_ZONE);
	assert_int_equal(unlink(path), 0);
}

static void test_config_file_conflict(void **state)
{
	char path[PATH_MAX], err[ERRLEN];
	struct pm_config cfg;

	(void)state;
	tmp_file(path, sizeof(path), "conflict.yaml",
		 "net_cross_zone: \"10.2.0.0/16,10.3.0.0/16\"\n"
		 "net_cross_region: 10.3.0.0/16\n");
	config__defaults(&cfg);
	err[0] = '\0';
	assert_int_equal(config__load_file(&cfg, path, err, sizeof(err)), -EINVAL);
	assert_has(err, "line 2");
	assert_has(err, "net_cross_region");
	assert_has(err, "10.3.0.0/16");
	assert_int_equal(cfg.net.n_cidrs, 0);
	assert_int_equal(unlink(path), 0);
}

/* Flags win over the file, class by class. */
static void test_config_args_override(void **state)
{
	char path[PATH_MAX], err[ERRLEN];
	struct pm_config cfg;
	char *argv[] = { "run", "--config", path, "--net-cross-region", "10.3.0.0/16" };

	(void)state;
	tmp_file(path, sizeof(path), "args.yaml",
		 "net_cross_zone: \"10.2.0.0/16\"\n"
		 "net_cross_region: \"10.4.0.0/16, 10.1.0.0/16\"\n");
	memset(&cfg, 0, sizeof(cfg));
	if (config__from_args(&cfg, ARRAY_SIZE(argv), argv, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(cfg.net.n_cidrs, 2);
	assert_cfg_has(&cfg, &net_10_2, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_REGION);
	assert_int_equal(cfg_find(&cfg, &net_10_4, PM_NET_CROSS_REGION), -1);
	assert_int_equal(unlink(path), 0);
}

/* A flag may not put a network in a second class that the file gave it. */
static void test_config_args_conflict(void **state)
{
	char path[PATH_MAX], err[ERRLEN];
	struct pm_config cfg, before;
	char *argv[] = { "run", "--config", path, "--net-cross-region=10.3.0.0/16" };
	char zone[] = "--net-cross-zone=10.2.0.0/16", region[] = "--net-cross-region=10.3.0.0/16";
	char *fixed[] = { "run", "--config", path, zone, region };

	(void)state;
	tmp_file(path, sizeof(path), "args2.yaml", "net_cross_zone: \"10.2.0.0/16,10.3.0.0/16\"\n");
	memset(&cfg, 0, sizeof(cfg));
	before = cfg;
	err[0] = '\0';
	assert_int_equal(config__from_args(&cfg, ARRAY_SIZE(argv), argv, err, sizeof(err)),
			 -EINVAL);
	assert_has(err, "--net-cross-region");
	assert_has(err, "10.3.0.0/16");
	assert_memory_equal(&cfg, &before, sizeof(cfg));

	/* taking it out of the file's class first works */
	if (config__from_args(&cfg, ARRAY_SIZE(fixed), fixed, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(cfg.net.n_cidrs, 2);
	assert_cfg_has(&cfg, &net_10_2, PM_NET_CROSS_ZONE);
	assert_cfg_has(&cfg, &net_10_3, PM_NET_CROSS_REGION);
	assert_int_equal(unlink(path), 0);
}

/*
 * A network already in another class: the message names that class, from
 * config__set, the file and the flags alike.
 */
static void test_config_conflict_names_class(void **state)
{
	char path[PATH_MAX], err[3][ERRLEN];
	struct pm_config cfg;
	char *argv[] = { "run", "--config", path, "--net-internet", "fd00::/8" };
	int i;

	(void)state;
	config__defaults(&cfg);
	assert_int_equal(config__set(&cfg, "net_cross_zone", "10.2.0.0/16", err[0], ERRLEN), 0);
	assert_int_equal(config__set(&cfg, "net_cross_region", "10.5.0.0/16, 10.2.0.0/16", err[0],
				     ERRLEN),
			 -EINVAL);
	tmp_file(path, sizeof(path), "names.yaml",
		 "net_in_zone: 10.2.0.0/16\n"
		 "net_cross_region: 10.2.0.0/16\n");
	config__defaults(&cfg);
	assert_int_equal(config__load_file(&cfg, path, err[1], ERRLEN), -EINVAL);
	tmp_file(path, sizeof(path), "names.yaml", "net_local: fd00::/8\n");
	assert_int_equal(config__from_args(&cfg, ARRAY_SIZE(argv), argv, err[2], ERRLEN), -EINVAL);
	assert_int_equal(unlink(path), 0);

	assert_has(err[0], "10.2.0.0/16 is already in class cross_zone");
	assert_has(err[1], "10.2.0.0/16 is already in class in_zone");
	assert_has(err[2], "fd00::/8 is already in class local");
	for (i = 0; i < 3; i++)
		assert_null(strstr(err[i], "given twice"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_list_appends),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_short_room),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_config_replace),
		cmocka_unit_test(test_config_two_classes),
		cmocka_unit_test(test_config_conflict),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_config_too_many),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_conflict),
		cmocka_unit_test(test_config_args_override),
		cmocka_unit_test(test_config_args_conflict),
		cmocka_unit_test(test_config_conflict_names_class),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
