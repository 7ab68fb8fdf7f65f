/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * YAML read through libyaml's document loader (a tree of nodes), with small
 * look-ups, and written as block-style text with every string quoted, so
 * that what podmeter writes reads back as what it meant.
 */
#ifndef PODMETER_RECONCILER_YAMLT_H
#define PODMETER_RECONCILER_YAMLT_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#define YT_MAX_DOCS 4096 /* documents a file may hold */

struct yt {
	yaml_document_t *docs;
	size_t n;
};

/* Parse every document of @text. 0, or -EINVAL with @err naming the line. */
int yt__parse(struct yt *y, const char *text, size_t len, char *err, size_t errlen);
void yt__free(struct yt *y);
/* The root of document @i, NULL when empty. */
yaml_node_t *yt__root(struct yt *y, size_t i);

/* A mapping's value for @key; NULL when @n is no mapping or has no such key. */
yaml_node_t *yt__get(yaml_document_t *d, yaml_node_t *n, const char *key);
/* @n's scalar text, NULL when it is no scalar. */
const char *yt__str(yaml_node_t *n);
/* yt__get of a path of keys ("a", "b", NULL). */
yaml_node_t *yt__path(yaml_document_t *d, yaml_node_t *n, ...);
size_t yt__len(yaml_node_t *n); /* items of a sequence, 0 otherwise */
yaml_node_t *yt__item(yaml_document_t *d, yaml_node_t *n, size_t i);
bool yt__is_map(yaml_node_t *n);
/* A scalar as a number, a boolean. 0 or -EINVAL. */
int yt__num(yaml_node_t *n, double *out);
int yt__bool(yaml_node_t *n, bool *out);

/* ---- writing ---- */

struct yt_buf {
	char *s;
	size_t n, cap;
	int err;
};

void yt_buf__printf(struct yt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* @s as a double-quoted YAML scalar (escapes as JSON's, which YAML reads). */
void yt_buf__quoted(struct yt_buf *b, const char *s);
void yt_buf__free(struct yt_buf *b);

#endif /* PODMETER_RECONCILER_YAMLT_H */
