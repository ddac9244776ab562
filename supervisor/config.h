/*
 * config.h: the options of a run, from the command line and the INI file.
 *
 * main.c parses the command line into a shoal_opts_t and marks each option
 * it saw in `set`; config_load then fills in, from the file, only what the
 * command line left unset, so flags override the file.
 *
 * The file has one section:
 *   [run]
 *   vms = 4                          ; 1..1024
 *   topology = pack:2 numa:2 core:2 pu:1   ; or a path to an XML file
 *   pool_mb = 4096                   ; page pool size in MiB
 *   proc_slots = 262144              ; process table slots
 *   heap_limit_mb = 1024             ; largest heap (and stack) of one process
 *   heap_follow = on_gc              ; on_gc, never or eager (see segment.h)
 *   atoms = 65536                    ; atoms the atom table holds
 *   code_mb = 64                     ; code area in MiB
 *   source_mb = 64                   ; largest source file in MiB
 *
 * NOTES
 *   Supervisor only. Errors are written into the caller's buffer (with
 *   FILE:LINE for the file); nothing here prints.
 */
#ifndef SHOAL_SUPERVISOR_CONFIG_H
#define SHOAL_SUPERVISOR_CONFIG_H

#include "shm/common.h"
#include "shm/segment.h"

/* Bits of shoal_opts_t.set: options given on the command line. */
enum {
    OPT_SET_VMS = 1u << 0,
    OPT_SET_TOPOLOGY = 1u << 1,
    OPT_SET_POOL_MB = 1u << 2,
    OPT_SET_PROC_SLOTS = 1u << 3,
    OPT_SET_HEAP_LIMIT = 1u << 4,
    OPT_SET_HEAP_FOLLOW = 1u << 5,
    OPT_SET_ATOMS = 1u << 6,
    OPT_SET_CODE_MB = 1u << 7,
    OPT_SET_SOURCE_MB = 1u << 8
};

/* Bounds of the numeric options. pool_mb: 1 TiB of address space at most
 * (pages cost nothing until touched, but their descriptors are set up at
 * start-up). proc_slots: 16 Mi PCBs are 4 GiB of table. */
#define CONFIG_POOL_MB_MAX (1u << 20)
#define CONFIG_PROC_SLOTS_MAX (1u << 24)
/* heap_limit_mb: a process may not hold more than the largest pool. */
#define CONFIG_HEAP_LIMIT_MB_MAX CONFIG_POOL_MB_MAX
/* atoms: the runtime's own atoms and the prelude's names need a few
 * dozen; 16 Mi atoms are a 1.3 GiB atom area. code_mb: 16 GiB of code
 * is far past any program; source_mb: so is 4 GiB of source. */
#define CONFIG_ATOMS_MIN 1024u
#define CONFIG_ATOMS_MAX (1u << 24)
#define CONFIG_CODE_MB_MAX 16384u
#define CONFIG_SOURCE_MB_MAX 4096u

/* A config file larger than this is refused unread: it is a mistake
 * (--config /dev/zero, a log file), not a config. */
#define CONFIG_FILE_MAX (1u << 20)

typedef struct shoal_opts {
    uint32_t vms;        /* 0: one VM per core of the topology */
    char *topology;      /* NULL: this machine; malloc'ed */
    uint32_t pool_mb;    /* 0: the segment's default */
    uint32_t proc_slots; /* 0: the segment's default */
    uint32_t heap_limit_mb; /* 0: the segment's default */
    uint32_t heap_follow;   /* enum heap_follow; HEAP_FOLLOW_ON_GC by default */
    uint32_t atoms;         /* 0: the segment's default */
    uint32_t code_mb;       /* 0: the segment's default */
    uint32_t source_mb;     /* 0: the segment's default */
    int topology_line;      /* > 0: the topology came from this line of config_path */
    const char *config_path; /* the config file read, or NULL */
    bool smoke;          /* run the built-in smoke workload */
    bool hold;           /* with smoke: keep the VMs until a signal */
    bool verbose;
    bool json;    /* `shoal topology --json` */
    unsigned set; /* OPT_SET_* given on the command line */
    int nfiles;   /* program files, in order */
    char **files;
    int nargs; /* program arguments, after `--` */
    char **args;
} shoal_opts_t;

/* Parse a whole decimal number in [min, max]: no sign, no spaces, no
 * trailing text. `what` names the option in the message, e.g. "--vms". */
int config_parse_uint(const char *s, uint32_t min, uint32_t max, const char *what, uint32_t *out,
                      char *err, size_t errlen);

/* Parse on_gc, never or eager into an enum heap_follow. */
int config_parse_follow(const char *s, const char *what, uint32_t *out, char *err, size_t errlen);

/* Read `path` and fill what opts->set does not cover. */
int config_load(const char *path, shoal_opts_t *opts, char *err, size_t errlen);

/* config_load on text already read: `len` bytes, not NUL-terminated, of
 * a file named `path` in the messages. (The config fuzzer's entry.) */
int config_parse(const char *path, const char *text, size_t len, shoal_opts_t *opts, char *err,
                 size_t errlen);

/* Free what the options own (the topology string). */
void config_free(shoal_opts_t *opts);

/* The segment's configuration for a run of n_vms VMs on n_nodes nodes:
 * the defaults (shm_config_default), then what the options set. */
void config_segment(const shoal_opts_t *opts, uint32_t n_vms, uint32_t n_nodes,
                    shm_config_t *cfg);

#endif
