// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* podmeter-reconciler: the central program; subcommands in a table. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "costs.h"
#include "serve.h"
#include "store.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int version_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("podmeter-reconciler %s (%s), store schema %d\n", PM_VERSION, PM_GIT_REV,
	       store__schema_latest());
	return 0;
}

int migrate__main(int argc, char **argv)
{
	struct store *s;
	char err[512];

	if (argc != 3 || strcmp(argv[1], "--store")) {
		fprintf(stderr, "usage: podmeter-reconciler migrate --store URL\n");
		return 2;
	}
	if (store__open(&s, argv[2], err, sizeof(err))) {
		fprintf(stderr, "migrate: %s\n", err);
		return 1;
	}
	printf("%s store at schema version %d\n", store__engine(s), store__schema_version(s));
	store__close(s);
	return 0;
}

static const struct cmd cmds[] = {
	{ "serve", serve__main, "take the agents' reports into the store (and serve /v1/costs)" },
	{ "costs", costs__main, "what each namespace, workload, node, pod or label cost" },
	{ "propose", propose__main,
	  "one cycle: decide, guard, write pull requests (--dry-run: print)" },
	{ "explain", explain__main, "why a workload got, or did not get, a proposal" },
	{ "migrate", migrate__main, "bring a store's schema up to date and print its version" },
	{ "version", version_main, "print the version" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: podmeter-reconciler COMMAND [ARGS]  (COMMAND --help for more)\n\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "podmeter-reconciler: unknown command %s\n", argv[1]);
	usage(stderr);
	return 2;
}
