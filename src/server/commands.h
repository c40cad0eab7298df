/*
 * commands.h -- the command table and the dispatcher.
 *
 * Each family file (t_string.c, keys.c, ...) defines a table of `command`
 * rows ending in a row with name NULL; commands.c lists the tables and
 * builds one case-insensitive lookup from them.  A row gives the name, the
 * handler, the arity (> 0 exact, < 0 at least), flags (CMD_*), the key
 * positions (first, last (-1: to the end), step) used by COMMAND INFO and
 * WATCH-free tools, and the COMMAND DOCS text.
 */
#ifndef OMEN_SERVER_COMMANDS_H
#define OMEN_SERVER_COMMANDS_H

#include "server/server.h"

/* COMMAND's subcommands (the container tables of CLIENT and CONFIG are in
 * connection.h and config.h). */
extern const subcommand command_subcommands[];

int commands_init(void);
/* Call fn for every command of every table (INFO commandstats). */
void commands_foreach(void (*fn)(command *cmd, void *ctx), void *ctx);
/* Calls refused before running (arity, NOAUTH, ...) and calls that replied
 * an error, for INFO commandstats. */
void commands_stats(const command *cmd, long long *rejected, long long *failed);
command *command_lookup(const char *name, size_t len);
/* Check and run (or queue, inside MULTI) the command in c->argv. */
void process_command(client *c);
/* Run c->cmd with c->argv now (EXEC uses it for queued commands). */
void call_command(client *c);
/* Case-insensitive comparison of an argument with a C string. */
int arg_is(const sarg *a, const char *s);

void commandCommand(client *c);
extern command command_family[];
extern command server_commands[]; /* server.c: INFO TIME LASTSAVE SHUTDOWN */

#endif
