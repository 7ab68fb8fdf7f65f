// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* YAML through libyaml's loader, and a small writer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "yamlt.h"

int yt__parse(struct yt *y, const char *text, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;
	size_t cap = 0;
	int ret = 0;

	memset(y, 0, sizeof(*y));
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (y->n == cap) {
			yaml_document_t *g;

			cap = cap ? cap * 2 : 4;
			g = realloc(y->docs, cap * sizeof(*g));
			if (!g) {
				ret = -ENOMEM;
				break;
			}
			y->docs = g;
		}
		if (!yaml_parser_load(&p, &y->docs[y->n])) {
			snprintf(err, errlen, "line %zu: %s", p.problem_mark.line + 1,
				 p.problem ? p.problem : "not YAML");
			ret = -EINVAL;
			break;
		}
		if (!yaml_document_get_root_node(&y->docs[y->n])) {
			yaml_document_delete(&y->docs[y->n]);
			break;
		}
		if (++y->n > YT_MAX_DOCS) {
			snprintf(err, errlen, "more than %d documents", YT_MAX_DOCS);
			ret = -E2BIG;
			break;
		}
	}
	yaml_parser_delete(&p);
	if (ret)
		yt__free(y);
	return ret;
}

void yt__free(struct yt *y)
{
	size_t i;

	for (i = 0; i < y->n; i++)
		yaml_document_delete(&y->docs[i]);
	free(y->docs);
	memset(y, 0, sizeof(*y));
}

yaml_node_t *yt__root(struct yt *y, size_t i)
{
	return i < y->n ? yaml_document_get_root_node(&y->docs[i]) : NULL;
}

bool yt__is_map(yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

const char *yt__str(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *yt__get(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	yaml_node_pair_t *pr;

	if (!yt__is_map(n))
		return NULL;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		const char *k = yt__str(yaml_document_get_node(d, pr->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(d, pr->value);
	}
	return NULL;
}

yaml_node_t *yt__path(yaml_document_t *d, yaml_node_t *n, ...)
{
	const char *k;
	va_list ap;

	va_start(ap, n);
	while (n && (k = va_arg(ap, const char *)))
		n = yt__get(d, n, k);
	va_end(ap);
	return n;
}

size_t yt__len(yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *yt__item(yaml_document_t *d, yaml_node_t *n, size_t i)
{
	if (i >= yt__len(n))
		return NULL;
	return yaml_document_get_node(d, n->data.sequence.items.start[i]);
}

int yt__num(yaml_node_t *n, double *out)
{
	const char *s = yt__str(n);
	char *end;

	if (!s || !*s)
		return -EINVAL;
	*out = strtod(s, &end);
	return *end ? -EINVAL : 0;
}

int yt__bool(yaml_node_t *n, bool *out)
{
	const char *s = yt__str(n);

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

void yt_buf__printf(struct yt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->s && b->n + (size_t)n < b->cap) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *g = realloc(b->s, cap);

		if (!g) {
			b->err = -ENOMEM;
			return;
		}
		b->s = g;
		b->cap = cap;
	}
}

void yt_buf__quoted(struct yt_buf *b, const char *s)
{
	yt_buf__printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			yt_buf__printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			yt_buf__printf(b, "\\x%02x", c);
		else
			yt_buf__printf(b, "%c", c);
	}
	yt_buf__printf(b, "\"");
}

void yt_buf__free(struct yt_buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}
