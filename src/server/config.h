/*
 * config.h -- the server's settings: defaults, the redis.conf-style file,
 * command-line flags (--name value ..., later ones win), CONFIG GET/SET.
 */
#ifndef OMEN_SERVER_CONFIG_H
#define OMEN_SERVER_CONFIG_H

#include "server/server.h"

extern command config_commands[];
/* CONFIG's subcommands, checked by the dispatcher (commands.c). */
extern const subcommand config_subcommands[];

void config_defaults(void);
/* Apply one setting; argv are its values.  0, or -1 with *err set to a
 * static message. */
int config_apply(const char *name, int argc, char **argv, int startup, const char **err);
/* Load a redis.conf-style file.  0, or -1 with a message on stderr. */
int config_load_file(const char *path);
/* Parse argv of main: an optional config file first, then --name values. */
int config_parse_args(int argc, char **argv);

#endif
