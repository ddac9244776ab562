/*
 * config.h: the options of a run, from the command line and the INI file.
 *
 * main.c parses the command line into a shoal_opts_t and marks each option
 * it saw in `set`; config_load then fills in, from the file, only what the
 * command line left unset, so flags override the file.
 *
 * The file's sections (examples/shoal.ini documents every key):
 *   [run]
 *   vms = 4                          ; 1..1024
 *   topology = pack:2 numa:2 core:2 pu:1   ; or a path to an XML file
 *   pool_mb = 4096                   ; page pool size in MiB
 *   proc_slots = 262144              ; process table slots
 *   atoms = 65536                    ; atoms the atom table holds
 *   code_mb = 64                     ; code area in MiB
 *   source_mb = 64                   ; largest source file in MiB
 *   [policy]
 *   name = steal                     ; a policy of policy/registry.c
 *   interval_ms = 10                 ; the rebalancer's period
 *   [policy.steal]                   ; one section per policy: its parameters
 *   remote_min = 4
 *   [memory]
 *   heap_limit_mb = 1024             ; largest heap (and stack) of one process
 *   heap_follow = on_gc              ; on_gc, never or eager (see segment.h)
 *   hibernate_ms = 1000              ; waiting this long, a process hibernates (0: never)
 * (heap_limit_mb and heap_follow are also accepted in [run], where they
 * were first.)
 * `--set SECTION.KEY=VALUE` sets any key from the command line, and
 * `--policy NAME` is --set policy.name=NAME. Unknown sections, keys and
 * policies, a key given twice, and values out of range, are errors that
 * name the file and line (or the --set argument), the key and the
 * accepted values.
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
    OPT_SET_SOURCE_MB = 1u << 8,
    OPT_SET_POLICY = 1u << 9,
    OPT_SET_INTERVAL = 1u << 10,
    OPT_SET_HIBERNATE = 1u << 11
};

/* Policies the options can hold parameters for (the registry has fewer). */
#define CONFIG_MAX_POLICIES 8u

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

/* Crash recovery (supervisor/run.c): as an OTP supervisor's intensity,
 * at most max_restarts VM restarts in restart_window_s seconds, 10 in 10
 * by default; a VM silent for stall_ms (default 5 s, ten times a slow
 * collection's worst here) is stalled. */
#define CONFIG_MAX_RESTARTS_DEFAULT 10u
#define CONFIG_MAX_RESTARTS_MAX 1000000u
#define CONFIG_RESTART_WINDOW_DEFAULT 10u
#define CONFIG_RESTART_WINDOW_MAX 86400u
#define CONFIG_STALL_MS_DEFAULT 5000u
#define CONFIG_STALL_MS_MIN 200u
#define CONFIG_STALL_MS_MAX 3600000u
/* A mailbox past this many messages ends its process: by default there
 * is no limit, as in Erlang; a server that must not drown sets one. */
#define CONFIG_MAILBOX_LIMIT_MAX 0x7fffffffu

typedef struct shoal_opts {
    uint32_t vms;        /* 0: one VM per core of the topology */
    char *topology;      /* NULL: this machine; malloc'ed */
    uint32_t pool_mb;    /* 0: the segment's default */
    uint32_t proc_slots; /* 0: the segment's default */
    uint32_t heap_limit_mb; /* 0: the segment's default */
    uint32_t heap_follow;   /* enum heap_follow; HEAP_FOLLOW_ON_GC by default */
    uint32_t hibernate_ms1; /* [memory] hibernate_ms + 1; 0: not given (the default) */
    uint32_t atoms;         /* 0: the segment's default */
    uint32_t code_mb;       /* 0: the segment's default */
    uint32_t source_mb;     /* 0: the segment's default */
    uint32_t max_restarts;     /* VM restarts allowed in restart_window_s (0: default) */
    uint32_t restart_window_s; /* 0: default */
    uint32_t stall_ms;         /* a VM whose heartbeat stands still this long is
                                * killed and recovered (0: default) */
    uint32_t mailbox_limit;    /* messages a mailbox may hold (0: no limit) */
    int topology_line;      /* > 0: the topology came from this line of config_path */
    const char *config_path; /* the config file read, or NULL */
    bool smoke;          /* run the built-in smoke workload */
    bool hold;           /* with smoke: keep the VMs until a signal */
    bool verbose;
    uint32_t policy;      /* registry id + 1; 0: the default policy */
    uint32_t interval_ms; /* 0: POLICY_INTERVAL_DEFAULT */
    /* parameter values of every policy; a bit of param_set says the
     * value was given (else the policy's default applies) */
    int64_t params[CONFIG_MAX_POLICIES][POLICY_MAX_PARAMS];
    uint32_t param_set[CONFIG_MAX_POLICIES];
    bool json;    /* `shoal topology --json` */
    const char *name;       /* --name: the run's name on the control socket */
    const char *stats_json; /* --stats-json FILE: final statistics, or NULL */
    bool summary;           /* --summary: a per-VM table on stderr at the end */
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

/* Parse a whole decimal number in [min, max] (64 bits, no sign). */
int config_parse_int64(const char *s, int64_t min, int64_t max, const char *what, int64_t *out,
                       char *err, size_t errlen);

/* Read `path` and fill what opts->set does not cover. */
int config_load(const char *path, shoal_opts_t *opts, char *err, size_t errlen);

/* `--set SECTION.KEY=VALUE`: set one key as the file would, marked as
 * given on the command line (the file does not override it). */
int config_set(shoal_opts_t *opts, const char *arg, char *err, size_t errlen);

/* The policy of a run (its registry id), its period and its parameter
 * values (defaults where none was given; POLICY_MAX_PARAMS room). */
uint32_t config_policy(const shoal_opts_t *opts);
uint32_t config_interval_ms(const shoal_opts_t *opts);
void config_policy_params(const shoal_opts_t *opts, uint32_t id, int64_t *out);

/* The keys of [run] (for tests and documentation checks). */
const char *const *config_run_keys(size_t *n);

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
