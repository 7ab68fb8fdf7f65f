// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A NodeReport as one line of JSON, rendered from the protobuf-c descriptors
 * so that a field added to podmeter.proto shows up without code here.
 *
 * Every field is present, at its default value too (0, "", false, [], {}),
 * so a reader never has to know the defaults; an unset submessage is null.
 * Mappings that JSON cannot hold as is:
 *   - uint64/fixed64 above INT64_MAX: a decimal string ("18446744073709551615"),
 *     other 64-bit integers are JSON integers;
 *   - float/double NaN and infinities: "NaN", "Infinity", "-Infinity";
 *   - bytes: standard base64 with padding (RFC 4648), as proto3's JSON mapping;
 *   - enums: the value's name, or the number when the schema does not know it;
 *   - maps: a JSON object, keys as strings;
 *   - strings that are not valid UTF-8: each bad byte becomes U+FFFD.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <podmeter/report.h>
#include "podmeter.pb-c.h"

/* The schema does not nest this deep; a guard against a future cycle. */
#define PBJSON_MAX_DEPTH 32
/*
 * Every message renders all its fields, so two packed bytes (an empty
 * PodReport) stand for half a kilobyte of JSON and several kilobytes of
 * jansson objects: the packed size bounds nothing. What a report may render
 * to is charged from its packed bytes before anything is unpacked, and a
 * report over either limit is refused. A 1000-pod report of the benchmark
 * (tests/bench/report_bench.c) is charged about a tenth of each.
 */
#define PBJSON_MAX_VALUES (1u << 20)  /* JSON values, and fields protobuf-c keeps unknown */
#define PBJSON_MAX_BYTES  (64u << 20) /* bytes of JSON, an upper bound */
#define PBJSON_SCALAR_MAX 26	      /* a number, bool or enum name rendered, quoted */

static json_t *pbjson_message(const ProtobufCMessage *m, int depth);

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if invalid. */
static size_t pbjson_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* jansson takes only valid UTF-8: replace what is not, byte by byte. */
static json_t *pbjson_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i, k, o = 0;
	json_t *j;
	char *buf;

	j = json_string((const char *)p);
	if (j)
		return j;
	buf = malloc(n * 3 + 1);
	if (!buf)
		return NULL;
	for (i = 0; i < n; i += k) {
		k = pbjson_utf8_len(p + i, n - i);
		if (k) {
			memcpy(buf + o, p + i, k);
			o += k;
			continue;
		}
		memcpy(buf + o, "\xef\xbf\xbd", 3);
		o += 3;
		k = 1;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *pbjson_bytes(const ProtobufCBinaryData *b)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *d = b->data;
	size_t i, o = 0;
	uint32_t v;
	json_t *j;
	char *buf;

	buf = malloc((b->len + 2) / 3 * 4 + 1);
	if (!buf)
		return NULL;
	for (i = 0; i < b->len; i += 3) {
		v = (uint32_t)d[i] << 16;
		if (i + 1 < b->len)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < b->len)
			v |= d[i + 2];
		buf[o++] = abc[v >> 18 & 63];
		buf[o++] = abc[v >> 12 & 63];
		buf[o++] = i + 1 < b->len ? abc[v >> 6 & 63] : '=';
		buf[o++] = i + 2 < b->len ? abc[v & 63] : '=';
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *pbjson_u64(uint64_t v)
{
	char s[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	return json_string(s);
}

static json_t *pbjson_real(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static json_t *pbjson_enum(const ProtobufCEnumDescriptor *d, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);

	return ev ? json_string(ev->name) : json_integer(v);
}

/* One value of field @f stored at @p (an element, for a repeated field). */
static json_t *pbjson_value(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return pbjson_u64(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return pbjson_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return pbjson_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM:
		return pbjson_enum(f->descriptor, *(const int *)p);
	case PROTOBUF_C_TYPE_STRING:
		return pbjson_string(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		return pbjson_bytes(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return pbjson_message(*(ProtobufCMessage *const *)p, depth + 1);
	}
	return NULL;
}

static size_t pbjson_elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

/*
 * protobuf-c has no map flag: a map<K, V> field is a repeated message of the
 * type protoc synthesises for it, "<FieldInCamelCase>Entry" with the fields
 * key = 1 and value = 2.
 */
static bool pbjson_is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	const char *n = f->name, *s;
	bool up = true;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	if (d->n_fields != 2 || strcmp(d->fields[0].name, "key") || d->fields[0].id != 1 ||
	    strcmp(d->fields[1].name, "value") || d->fields[1].id != 2)
		return false;
	for (s = d->short_name; *n; n++) {
		if (*n == '_') {
			up = true;
			continue;
		}
		if (*s++ != (up && *n >= 'a' && *n <= 'z' ? *n - 'a' + 'A' : *n))
			return false;
		up = false;
	}
	return !strcmp(s, "Entry");
}

/* A map key as a JSON object key: strings as they are, the rest in decimal. */
static json_t *pbjson_map_key(const ProtobufCFieldDescriptor *kf, const void *p)
{
	json_t *k = pbjson_value(kf, p, 0);
	char s[32];

	if (!k || json_is_string(k))
		return k;
	if (json_is_integer(k))
		snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(k));
	else
		snprintf(s, sizeof(s), "%s", json_is_true(k) ? "true" : "false");
	json_decref(k);
	return json_string(s);
}

static json_t *pbjson_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *ents,
			  size_t n, int depth)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	json_t *obj = json_object(), *k, *v;
	size_t i;

	for (i = 0; obj && i < n; i++) {
		const char *e = (const char *)ents[i];

		k = pbjson_map_key(&d->fields[0], e + d->fields[0].offset);
		v = pbjson_value(&d->fields[1], e + d->fields[1].offset, depth);
		/* a repeated key: the last one wins, as protobuf parsers do */
		if (!k || !v || json_object_set_new(obj, json_string_value(k), v)) {
			if (!k)
				json_decref(v);
			json_decref(obj);
			obj = NULL;
		}
		json_decref(k);
	}
	return obj;
}

static json_t *pbjson_repeated(const ProtobufCFieldDescriptor *f, const char *m, int depth)
{
	size_t n = *(const size_t *)(m + f->quantifier_offset), i;
	size_t sz = pbjson_elem_size(f->type);
	const char *arr = *(const char *const *)(m + f->offset);
	json_t *a;

	if (pbjson_is_map(f))
		return pbjson_map(f, (ProtobufCMessage *const *)arr, n, depth);
	a = json_array();
	for (i = 0; a && i < n; i++) {
		if (json_array_append_new(a, pbjson_value(f, arr + i * sz, depth))) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *pbjson_field(const ProtobufCFieldDescriptor *f, const char *m, int depth)
{
	/* a oneof member that is not the chosen one: its storage is another's */
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *)(m + f->quantifier_offset) != f->id)
		return json_null();
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return pbjson_repeated(f, m, depth);
	return pbjson_value(f, m + f->offset, depth);
}

static json_t *pbjson_message(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d;
	json_t *obj;
	unsigned i;

	if (!m)
		return json_null();
	if (depth > PBJSON_MAX_DEPTH)
		return NULL;
	d = m->descriptor;
	obj = json_object();
	for (i = 0; obj && i < d->n_fields; i++) {
		if (json_object_set_new(obj, d->fields[i].name,
					pbjson_field(&d->fields[i], (const char *)m, depth))) {
			json_decref(obj);
			obj = NULL;
		}
	}
	return obj;
}

struct pbjson_budget {
	size_t values;
	size_t bytes;
};

static bool pbjson_charge(struct pbjson_budget *b, size_t values, size_t bytes)
{
	if (values > b->values || bytes > b->bytes)
		return false;
	b->values -= values;
	b->bytes -= bytes;
	return true;
}

/*
 * A base-128 varint of at most @max bytes. As protobuf-c reads them: values
 * of 10, tags and lengths of 5 (whose bits past 32 it drops).
 */
static bool pbjson_varint(const uint8_t **p, const uint8_t *end, unsigned int max, uint64_t *v)
{
	unsigned int shift;

	*v = 0;
	for (shift = 0; shift < 7 * max && *p < end; shift += 7) {
		uint8_t c = *(*p)++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return true;
	}
	return false;
}

static int pbjson_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth,
		       struct pbjson_budget *b);

/* One field as found on the wire (@val, @n: a length-delimited payload). */
static int pbjson_scan_field(const ProtobufCFieldDescriptor *f, unsigned int wire,
			     const uint8_t *val, size_t n, int depth, struct pbjson_budget *b)
{
	size_t rep = f && f->label == PROTOBUF_C_LABEL_REPEATED;
	bool ok;

	if (!f) /* unknown to the schema: kept by protobuf-c, not rendered */
		ok = pbjson_charge(b, 1, 0);
	else if (wire != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
		ok = pbjson_charge(b, rep, rep * (PBJSON_SCALAR_MAX + 1));
	else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return pbjson_scan(f->descriptor, val, n, depth + 1, b);
	else if (f->type == PROTOBUF_C_TYPE_STRING) /* "\u0001" for each byte at worst */
		ok = n <= b->bytes / 6 && pbjson_charge(b, rep, n * 6 + 3);
	else if (f->type == PROTOBUF_C_TYPE_BYTES) /* base64 */
		ok = pbjson_charge(b, rep, n / 3 * 4 + 7);
	else /* packed scalars: a byte each at least */
		ok = n <= b->values && n <= b->bytes / (PBJSON_SCALAR_MAX + 1) &&
		     pbjson_charge(b, n, n * (PBJSON_SCALAR_MAX + 1));
	return ok ? 0 : -EFBIG;
}

/*
 * Charge a packed message: its fields at their defaults, then what the wire
 * adds. Conservative where protobuf-c merges (a singular message given twice
 * is charged twice). -EINVAL when the wire format is broken, -EFBIG when a
 * limit is passed.
 */
static int pbjson_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth,
		       struct pbjson_budget *b)
{
	const uint8_t *end = p + len, *val;
	const ProtobufCFieldDescriptor *f;
	size_t bytes = 2;
	uint64_t tag, n;
	unsigned int i;
	int ret;

	if (depth > PBJSON_MAX_DEPTH)
		return -EINVAL;
	for (i = 0; i < d->n_fields; i++)
		bytes += strlen(d->fields[i].name) + 4 + PBJSON_SCALAR_MAX;
	if (!pbjson_charge(b, 1 + d->n_fields, bytes))
		return -EFBIG;
	while (p < end) {
		/* protobuf-c refuses field 0 in a one-byte tag, not in a longer one */
		if (!(*p & 0xf8) || !pbjson_varint(&p, end, 5, &tag))
			return -EINVAL;
		val = p;
		n = 0;
		switch (tag & 7) {
		case PROTOBUF_C_WIRE_TYPE_VARINT:
			if (!pbjson_varint(&p, end, 10, &n))
				return -EINVAL;
			break;
		case PROTOBUF_C_WIRE_TYPE_64BIT:
		case PROTOBUF_C_WIRE_TYPE_32BIT:
			n = (tag & 7) == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
			if ((size_t)(end - p) < n)
				return -EINVAL;
			p += n;
			break;
		case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
			if (!pbjson_varint(&p, end, 5, &n) || (n &= UINT32_MAX) > (size_t)(end - p))
				return -EINVAL;
			val = p;
			p += n;
			break;
		default: /* groups: protobuf-c refuses them too */
			return -EINVAL;
		}
		f = protobuf_c_message_descriptor_get_field(d, (uint32_t)(tag >> 3));
		ret = pbjson_scan_field(f, tag & 7, val, n, depth, b);
		if (ret)
			return ret;
	}
	return 0;
}

int pbjson__check(const void *pb, size_t len, char *err, size_t errlen)
{
	struct pbjson_budget b = { PBJSON_MAX_VALUES, PBJSON_MAX_BYTES };
	int ret;

	ret = pbjson_scan(&podmeter__v1__node_report__descriptor, pb, len, 0, &b);
	if (ret == -EINVAL)
		snprintf(err, errlen, "not a NodeReport: the protobuf does not decode");
	else if (ret)
		snprintf(err, errlen,
			 "the report would render to more than %u JSON values or %u MiB of JSON: "
			 "refused, no node's report is that large",
			 PBJSON_MAX_VALUES, PBJSON_MAX_BYTES >> 20);
	return ret;
}

char *pbjson__report(const void *pb, size_t len, char *err, size_t errlen)
{
	Podmeter__V1__NodeReport *r;
	char *out = NULL;
	json_t *j;

	if (pbjson__check(pb, len, err, errlen))
		return NULL;
	r = podmeter__v1__node_report__unpack(NULL, len, pb);
	if (!r) {
		snprintf(err, errlen, "not a NodeReport: the protobuf does not decode");
		return NULL;
	}
	j = pbjson_message(&r->base, 0);
	if (j)
		out = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (!out)
		snprintf(err, errlen, "cannot render the report as JSON: out of memory");
	json_decref(j);
	podmeter__v1__node_report__free_unpacked(r, NULL);
	return out;
}
