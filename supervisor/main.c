/*
 * main.c: the `shoal` command line.
 *
 *   shoal run [options] FILE.shoal ... [-- ARGS ...]
 *   shoal run --smoke [--hold] [options]
 *   shoal topology [options] [--json]
 *   shoal policy list [--json]
 *   shoal simulate --topology SPEC --policy NAME --workload FILE [...]
 *   shoal stats | ps | inspect | top | policy show|use|set ...   (client.c, top.c)
 *   shoal --help | --version
 *
 * main parses the command line (getopt_long), reads the config file for
 * what the flags left unset, loads the topology, places the VMs, and hands
 * over to run_main or prints the placement. Bad input of any kind is a
 * one-line "shoal: ..." message and exit status 2.
 *
 * NOTES
 *   The only file that exits (by returning from main). Everything it calls
 *   returns errors; this file prints them.
 */
#include "policy/policy.h"
#include "supervisor/client.h"
#include "supervisor/config.h"
#include "supervisor/ctl.h"
#include "supervisor/policy_cli.h"
#include "supervisor/run.h"
#include "supervisor/simulate.h"
#include "supervisor/topology.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum cmd { CMD_RUN, CMD_TOPOLOGY };

enum {
    OPT_VMS = 256,
    OPT_TOPOLOGY,
    OPT_CONFIG,
    OPT_POOL_MB,
    OPT_PROC_SLOTS,
    OPT_HEAP_LIMIT,
    OPT_HEAP_FOLLOW,
    OPT_ATOMS,
    OPT_CODE_MB,
    OPT_SOURCE_MB,
    OPT_SMOKE,
    OPT_HOLD,
    OPT_JSON,
    OPT_VERSION,
    OPT_POLICY,
    OPT_SET,
    OPT_NAME,
    OPT_STATS_JSON,
    OPT_SUMMARY
};

static const struct option long_opts[] = {
    {"vms", required_argument, NULL, OPT_VMS},
    {"topology", required_argument, NULL, OPT_TOPOLOGY},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"pool-mb", required_argument, NULL, OPT_POOL_MB},
    {"proc-slots", required_argument, NULL, OPT_PROC_SLOTS},
    {"heap-limit-mb", required_argument, NULL, OPT_HEAP_LIMIT},
    {"heap-follow", required_argument, NULL, OPT_HEAP_FOLLOW},
    {"atoms", required_argument, NULL, OPT_ATOMS},
    {"code-mb", required_argument, NULL, OPT_CODE_MB},
    {"source-mb", required_argument, NULL, OPT_SOURCE_MB},
    {"smoke", no_argument, NULL, OPT_SMOKE},
    {"hold", no_argument, NULL, OPT_HOLD},
    {"json", no_argument, NULL, OPT_JSON},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"set", required_argument, NULL, OPT_SET},
    {"name", required_argument, NULL, OPT_NAME},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs("usage: shoal run [options] FILE.shoal ... [-- ARGS ...]\n"
          "       shoal run --smoke [--hold] [options]\n"
          "       shoal topology [options] [--json]\n"
          "       shoal policy list [--json]\n"
          "       shoal simulate --topology SPEC --policy NAME --workload FILE\n"
          "                      [--vms N] [--set ...] [--seed N] [--json]\n"
          "       shoal stats [--name NAME] [--json | --prometheus]\n"
          "       shoal ps [--name NAME] [--vm N] [--state S] [--sort KEY] [--limit N] [--json]\n"
          "       shoal inspect PID [--name NAME] [--messages N] [--json]\n"
          "       shoal top [--name NAME] [--interval SECONDS] [--sort KEY]\n"
          "       shoal policy show|use NAME|set KEY=VALUE... [--name NAME] [--json]\n"
          "       shoal --help | --version\n"
          "\n"
          "stats, ps, inspect, top and policy show|use|set talk to a running run over\n"
          "its control socket; 'shoal COMMAND --help' says more.\n"
          "\n"
          "options of run and topology:\n"
          "  --vms N            VMs to run, 1..1024 (default: one per core)\n"
          "  --topology DESC    place the VMs on another machine's topology: a synthetic\n"
          "                     description such as \"pack:2 numa:2 core:2 pu:1\" (commas\n"
          "                     may stand for spaces: pack:2,numa:2,core:2,pu:1) or an\n"
          "                     hwloc XML file (lstopo out.xml); the VMs are then not bound\n"
          "  --config FILE      read options from an INI file: sections [run] (keys named\n"
          "                     as the flags: vms, topology, pool_mb, proc_slots, atoms,\n"
          "                     code_mb, source_mb), [memory] (heap_limit_mb,\n"
          "                     heap_follow, hibernate_ms), [policy] and [policy.NAME];\n"
          "                     examples/shoal.ini documents every key; flags override it\n"
          "  --policy NAME      the balancing policy (default steal; 'shoal policy list')\n"
          "  --set S.KEY=V      set a key of the config file, e.g. --set\n"
          "                     policy.steal.share=25 or --set policy.interval_ms=5;\n"
          "                     overrides the file\n"
          "  --pool-mb N        size of the shared page pool in MiB (default 4096)\n"
          "  --proc-slots N     process table slots (default 262144)\n"
          "  --heap-limit-mb N  largest heap of one process in MiB (default 1024); a\n"
          "                     process that needs more ends with #(error heap_limit)\n"
          "  --heap-follow M    where a moved process's heap goes: on_gc (to its new\n"
          "                     node at its next collection, the default), never, eager\n"
          "  --atoms N          atoms and function names the program may have,\n"
          "                     1024..16777216 (default 65536)\n"
          "  --code-mb N        room for the compiled program and its literals in MiB\n"
          "                     (default 64)\n"
          "  --source-mb N      largest source file in MiB (default 64)\n"
          "  --smoke            run the built-in smoke workload instead of a program\n"
          "  --hold             with --smoke: keep the VMs running until shoal gets\n"
          "                     SIGINT or SIGTERM\n"
          "  --json             (topology) print JSON\n"
          "  --name NAME        the run's name for shoal stats, ps, inspect, top and\n"
          "                     policy (default: $SHOAL_NAME, else default); two live\n"
          "                     runs cannot share one\n"
          "  --stats-json FILE  write the final statistics to FILE as JSON\n"
          "  --summary          print a per-VM table to stderr when the run ends\n"
          "  -v, --verbose      report each VM as it registers\n"
          "  -h, --help         this text\n"
          "\n"
          "limits, and what raises them:\n"
          "  65536 atoms and function names            --atoms, atoms\n"
          "  64 MiB of compiled code and literals      --code-mb, code_mb\n"
          "  64 MiB per source file                    --source-mb, source_mb\n"
          "  262144 processes at once                  --proc-slots, proc_slots\n"
          "  4096 MiB of heaps, messages and tables    --pool-mb, pool_mb\n"
          "  1024 MiB of heap per process              --heap-limit-mb, heap_limit_mb\n"
          "  forms nested 10000 deep in source         ulimit -s, up to 10000\n"
          "  config file: 1 MiB, lines of 198 bytes    fixed\n"
          "  1024 VMs; 4096 PUs in a topology          fixed\n"
          "\n"
          "exit status:\n"
          "  0      main returned normally (or the smoke run or the command finished)\n"
          "  1      main did not return normally; its exit reason is on stderr\n"
          "  2      bad command line, config, topology or program; nothing ran\n"
          "  3      a VM died more often than the restart limit allows ([run]\n"
          "         max_restarts, restart_window_s), and the run was stopped\n"
          "  4      could not start or go on: a system call failed, or memory, the\n"
          "         shared segment or a write ran out\n"
          "  128+N  stopped by signal N\n",
          f);
}

/* What shoal itself prints (help, version, topology) must reach stdout:
 * a full disk or a closed pipe is an error, not a silent success. */
static int flush_stdout(int status)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return status;
    fprintf(stderr, "shoal: cannot write to standard output: %s\n", strerror(errno));
    return SHOAL_EXIT_FAIL;
}

static int vbad(bool hint, const char *fmt, va_list ap)
{
    /* Messages quote what the user typed or wrote in a file: escape it,
     * so that no control or invalid byte reaches the terminal raw. */
    char msg[1024], esc[4 * sizeof msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "shoal: %s\n", shoal_escape(esc, sizeof esc, msg));
    if (hint)
        fputs("try 'shoal --help'\n", stderr);
    return SHOAL_EXIT_USAGE;
}

/* Bad input: print "shoal: MESSAGE" and return exit status 2. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbad(false, fmt, ap);
    va_end(ap);
    return SHOAL_EXIT_USAGE;
}

/* The same, for a command line that does not parse: add a usage hint. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbad(true, fmt, ap);
    va_end(ap);
    return SHOAL_EXIT_USAGE;
}

static int number(const char *arg, uint32_t min, uint32_t max, const char *what, uint32_t *out)
{
    char err[200];
    if (config_parse_uint(arg, min, max, what, out, err, sizeof err) < 0)
        return bad("%s", err);
    return 0;
}

/* Parse the options of `shoal run` / `shoal topology`; argv[0] is the
 * command name. Returns 0 or an exit status. */
static int parse(enum cmd cmd, int argc, char **argv, shoal_opts_t *o, const char **config)
{
    /* Everything after `--` is the program's: hide it from getopt, which
     * would otherwise permute it in with the files. */
    int dashdash = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dashdash = i;
            break;
        }
    const char *name = argv[0];
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(dashdash, argv, ":hv", long_opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_VMS:
            rc = number(optarg, 1, SHOAL_MAX_VMS, "--vms", &o->vms);
            o->set |= OPT_SET_VMS;
            break;
        case OPT_TOPOLOGY:
            /* as the config file's key: an empty value is a mistake (an
             * unset shell variable), not a way to say "this machine" */
            if (!*optarg)
                return bad("--topology: empty value (leave the flag out for this machine)");
            free(o->topology);
            if (!(o->topology = strdup(optarg)))
                return bad("out of memory");
            o->set |= OPT_SET_TOPOLOGY;
            break;
        case OPT_CONFIG:
            *config = optarg;
            break;
        case OPT_POLICY: {
            int id = policy_find(optarg);
            if (id < 0) {
                char names[160];
                policy_names(names, sizeof names);
                return bad("--policy: unknown policy \"%s\" (known: %s)", optarg, names);
            }
            o->policy = (uint32_t)id + 1;
            o->set |= OPT_SET_POLICY;
            break;
        }
        case OPT_SET: {
            char err[512];
            if (config_set(o, optarg, err, sizeof err) < 0)
                return bad("%s", err);
            break;
        }
        case OPT_POOL_MB:
            rc = number(optarg, 1, CONFIG_POOL_MB_MAX, "--pool-mb", &o->pool_mb);
            o->set |= OPT_SET_POOL_MB;
            break;
        case OPT_PROC_SLOTS:
            rc = number(optarg, 1, CONFIG_PROC_SLOTS_MAX, "--proc-slots", &o->proc_slots);
            o->set |= OPT_SET_PROC_SLOTS;
            break;
        case OPT_HEAP_LIMIT:
            rc = number(optarg, 1, CONFIG_HEAP_LIMIT_MB_MAX, "--heap-limit-mb", &o->heap_limit_mb);
            o->set |= OPT_SET_HEAP_LIMIT;
            break;
        case OPT_ATOMS:
            rc = number(optarg, CONFIG_ATOMS_MIN, CONFIG_ATOMS_MAX, "--atoms", &o->atoms);
            o->set |= OPT_SET_ATOMS;
            break;
        case OPT_CODE_MB:
            rc = number(optarg, 1, CONFIG_CODE_MB_MAX, "--code-mb", &o->code_mb);
            o->set |= OPT_SET_CODE_MB;
            break;
        case OPT_SOURCE_MB:
            rc = number(optarg, 1, CONFIG_SOURCE_MB_MAX, "--source-mb", &o->source_mb);
            o->set |= OPT_SET_SOURCE_MB;
            break;
        case OPT_HEAP_FOLLOW: {
            char why[160];
            if (config_parse_follow(optarg, "--heap-follow", &o->heap_follow, why, sizeof why) < 0)
                return bad("%s", why);
            o->set |= OPT_SET_HEAP_FOLLOW;
            break;
        }
        case OPT_SMOKE:
        case OPT_HOLD:
            if (cmd != CMD_RUN)
                return bad_usage("%s: %s applies to 'shoal run' only", name, argv[optind - 1]);
            if (c == OPT_SMOKE)
                o->smoke = true;
            else
                o->hold = true;
            break;
        case OPT_NAME:
        case OPT_STATS_JSON:
        case OPT_SUMMARY:
            if (cmd != CMD_RUN)
                return bad_usage("%s: --%s applies to 'shoal run' only", name,
                                 c == OPT_NAME ? "name" : c == OPT_STATS_JSON ? "stats-json"
                                                                             : "summary");
            if (c == OPT_NAME) {
                char why[300];
                if (!ctl_name_ok(optarg, why, sizeof why))
                    return bad("%s", why);
                o->name = optarg;
            } else if (c == OPT_STATS_JSON) {
                o->stats_json = optarg;
            } else {
                o->summary = true;
            }
            break;
        case OPT_JSON:
            if (cmd != CMD_TOPOLOGY)
                return bad_usage("%s: --json applies to 'shoal topology' only", name);
            o->json = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            return -1; /* done, status 0 */
        case OPT_VERSION:
            printf("shoal %s\n", SHOAL_VERSION);
            return -1;
        case ':':
            return bad_usage("%s: option %s needs a value", name, argv[optind - 1]);
        default:
            if (optopt && optopt < 256) {
                char flag[3] = {'-', (char)optopt, 0};
                return bad_usage("%s: unknown option %s", name, flag);
            }
            return bad_usage("%s: unknown option %s", name, argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    o->nfiles = dashdash - optind;
    o->files = argv + optind;
    if (dashdash < argc) {
        o->nargs = argc - dashdash - 1;
        o->args = argv + dashdash + 1;
    }
    if (cmd == CMD_TOPOLOGY) {
        if (o->nfiles > 0)
            return bad_usage("topology: unexpected argument '%s'", o->files[0]);
        if (dashdash < argc)
            return bad_usage("topology: unexpected '--'");
        return 0;
    }
    if (o->hold && !o->smoke)
        return bad_usage("run: --hold needs --smoke");
    if (o->smoke && o->nfiles > 0)
        return bad_usage("run: --smoke runs no program, but '%s' was given", o->files[0]);
    if (o->nfiles == 0 && dashdash < argc && !o->smoke)
        return bad_usage("run: program arguments after '--' but no program file");
    if (o->nfiles == 0 && !o->smoke)
        return bad_usage("run: nothing to run: give FILE.shoal or --smoke");
    if (o->stats_json) {
        /* Found out now, not after the run: a file we cannot write. */
        int fd = open(o->stats_json, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        struct stat sb;
        if (fd < 0)
            return bad("--stats-json %s: %s", o->stats_json, strerror(errno));
        bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
        close(fd);
        if (!regular)
            return bad("--stats-json %s: not a regular file", o->stats_json);
    }
    if (o->smoke && dashdash < argc)
        return bad_usage("run: --smoke takes no program arguments");
    return 0;
}

static void print_topology_json(const topo_t *t, const topo_placement_t *p)
{
    static const char *const source[] = {"machine", "synthetic", "xml"};
    printf("{\"source\":\"%s\",\"description\":", source[t->source]);
    if (t->source == TOPO_MACHINE)
        fputs("null", stdout);
    else
        cli_json_string(t->desc);
    printf(",\"packages\":%u,\"numa_nodes\":%u,\"l3_caches\":%u,\"cores\":%u,\"pus\":%u,"
           "\"shared_pus\":%s,\"vms\":[",
           t->n_packages, t->n_nodes, t->n_l3, t->n_cores, t->n_pus, p->shared ? "true" : "false");
    for (uint32_t i = 0; i < p->n_vms; i++) {
        const topo_vm_t *v = &p->vms[i];
        printf("%s{\"vm\":%u,\"cpuset\":", i ? "," : "", i);
        cli_json_string(v->cpuset);
        printf(",\"node\":%u,\"l3\":", v->node);
        if (v->l3 == UINT32_MAX)
            fputs("null", stdout);
        else
            printf("%u", v->l3);
        printf(",\"pus\":%u}", v->n_pus);
    }
    fputs("]}\n", stdout);
}

static void print_topology(const topo_t *t, const topo_placement_t *p)
{
    char src[300];
    topo_source_text(t, src, sizeof src);
    printf("topology: %s\n", src);
    printf("  %u %s, %u %s, %u L3 %s, %u %s, %u %s\n", t->n_packages,
           t->n_packages == 1 ? "package" : "packages", t->n_nodes,
           t->n_nodes == 1 ? "NUMA node" : "NUMA nodes", t->n_l3, t->n_l3 == 1 ? "cache" : "caches",
           t->n_cores, t->n_cores == 1 ? "core" : "cores", t->n_pus, t->n_pus == 1 ? "PU" : "PUs");
    printf("placement of %u %s:\n", p->n_vms, p->n_vms == 1 ? "VM" : "VMs");
    printf("  %4s  %-20s %5s %5s %5s\n", "VM", "cpuset", "node", "L3", "PUs");
    for (uint32_t i = 0; i < p->n_vms; i++) {
        const topo_vm_t *v = &p->vms[i];
        char l3[16] = "-";
        if (v->l3 != UINT32_MAX)
            snprintf(l3, sizeof l3, "%u", v->l3);
        printf("  %4u  %-20s %5u %5s %5u\n", i, v->cpuset, v->node, l3, v->n_pus);
    }
}

static int command(enum cmd cmd, int argc, char **argv)
{
    shoal_opts_t o = {0};
    const char *config = NULL;
    topo_t t = {0};
    topo_placement_t p = {0};
    char err[512];
    int status = parse(cmd, argc, argv, &o, &config);
    if (status != 0) {
        status = status < 0 ? flush_stdout(SHOAL_EXIT_OK) : status;
        goto out;
    }
    if (cmd == CMD_RUN && !o.name && getenv("SHOAL_NAME")) {
        /* the environment's default name, checked as --name is */
        o.name = getenv("SHOAL_NAME");
        if (!ctl_name_ok(o.name, err, sizeof err)) {
            status = bad("SHOAL_NAME: %s", err);
            goto out;
        }
    }
    if (config && config_load(config, &o, err, sizeof err) < 0) {
        status = bad("%s", err);
        goto out;
    }
    if (topo_load(&t, o.topology, err, sizeof err) < 0) {
        /* a topology from the config file is an error at its line */
        if (o.topology_line > 0 && !(o.set & OPT_SET_TOPOLOGY))
            status = bad("%s:%d: topology: %s", o.config_path, o.topology_line, err);
        else
            status = bad("%s", err);
        goto out;
    }
    uint32_t n = o.vms ? o.vms : t.n_cores;
    if (n > SHOAL_MAX_VMS)
        n = SHOAL_MAX_VMS; /* a machine with more cores than VMs we allow */
    if (topo_place(&t, n, &p, err, sizeof err) < 0) {
        status = bad("%s", err);
        goto out;
    }
    if (p.warning[0])
        fprintf(stderr, "shoal: warning: %s\n", p.warning);
    if (cmd == CMD_TOPOLOGY) {
        if (o.json)
            print_topology_json(&t, &p);
        else
            print_topology(&t, &p);
        status = flush_stdout(SHOAL_EXIT_OK);
    } else {
        status = run_main(&o, &t, &p);
    }
out:
    topo_placement_free(&p);
    topo_free(&t);
    config_free(&o);
    return status;
}

/* Make fds 0, 1 and 2 valid before anything else is opened, so that no
 * internal fd (the segment's memfd, the event loop's) can land on one of
 * them and be written to by print or an error report. A closed one gets
 * /dev/null opened read-only: reads see end of file, and writes fail
 * with EBADF as they would on the closed fd, so a closed stdout is still
 * a write error that the run reports. */
static bool std_fds_valid(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", O_RDONLY);
        if (nfd != fd) {
            if (nfd >= 0)
                close(nfd);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    if (!std_fds_valid()) {
        /* stderr itself may be the closed one: nothing better to do */
        return SHOAL_EXIT_FAIL;
    }
    if (argc < 2) {
        usage(stderr);
        return SHOAL_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return flush_stdout(SHOAL_EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("shoal %s\n", SHOAL_VERSION);
        return flush_stdout(SHOAL_EXIT_OK);
    }
    if (strcmp(cmd, "run") == 0)
        return command(CMD_RUN, argc - 1, argv + 1);
    if (strcmp(cmd, "topology") == 0)
        return command(CMD_TOPOLOGY, argc - 1, argv + 1);
    /* `policy list` needs no run; show, use and set talk to one */
    if (strcmp(cmd, "policy") == 0 && argc > 2 && strcmp(argv[2], "list") == 0)
        return policy_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "simulate") == 0)
        return simulate_cli_main(argc - 1, argv + 1);
    if (client_command(cmd))
        return client_main(argc - 1, argv + 1);
    if (cmd[0] == '-')
        return bad_usage("unknown option %s (a command comes first: run, topology, stats, ps, "
                         "inspect, top, policy, simulate)",
                         cmd);
    return bad_usage("unknown command '%s' (commands: run, topology, stats, ps, inspect, top, "
                     "policy, simulate)",
                     cmd);
}
