/*
 * policy_cli.c: `shoal policy list`: every policy with its parameters,
 * their defaults, ranges and descriptions, as text or JSON.
 *
 * NOTES
 *   Reads only the constant registry (policy/registry.c).
 */
#include "supervisor/policy_cli.h"

#include "policy/policy.h"
#include "supervisor/run.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void cli_json_string(const char *text)
{
    /* JSON is UTF-8: a byte that is not becomes \\xNN text first */
    char esc[4 * 300];
    const char *s = shoal_escape(esc, sizeof esc, text);
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void list_text(void)
{
    const policy_t *def = policy_at(policy_default_id());
    printf("policies ([policy] name, --policy NAME); [policy] interval_ms = %u (%u..%u): the "
           "rebalancer's period\n",
           POLICY_INTERVAL_DEFAULT, POLICY_INTERVAL_MIN, POLICY_INTERVAL_MAX);
    for (uint32_t i = 0; i < policy_count(); i++) {
        const policy_t *p = policy_at(i);
        printf("\n%s%s\n  %s\n", p->name, p == def ? " (default)" : "", p->desc);
        if (p->n_params == 0)
            printf("  no parameters\n");
        for (uint32_t k = 0; k < p->n_params; k++) {
            const policy_param_t *pp = &p->params[k];
            printf("  [policy.%s] %s = %" PRId64 " (%" PRId64 "..%" PRId64 "): %s\n", p->name,
                   pp->name, pp->def, pp->min, pp->max, pp->desc);
        }
    }
}

static void list_json(void)
{
    printf("{\"default\":");
    cli_json_string(policy_at(policy_default_id())->name);
    printf(",\"interval_ms\":{\"default\":%u,\"min\":%u,\"max\":%u},\"policies\":[",
           POLICY_INTERVAL_DEFAULT, POLICY_INTERVAL_MIN, POLICY_INTERVAL_MAX);
    for (uint32_t i = 0; i < policy_count(); i++) {
        const policy_t *p = policy_at(i);
        printf("%s{\"name\":", i ? "," : "");
        cli_json_string(p->name);
        printf(",\"description\":");
        cli_json_string(p->desc);
        printf(",\"params\":[");
        for (uint32_t k = 0; k < p->n_params; k++) {
            const policy_param_t *pp = &p->params[k];
            printf("%s{\"name\":", k ? "," : "");
            cli_json_string(pp->name);
            printf(",\"default\":%" PRId64 ",\"min\":%" PRId64 ",\"max\":%" PRId64
                   ",\"description\":",
                   pp->def, pp->min, pp->max);
            cli_json_string(pp->desc);
            printf("}");
        }
        printf("]}");
    }
    printf("]}\n");
}

int policy_cli_main(int argc, char **argv)
{
    bool json = false;
    if (argc < 2 || strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "shoal: policy: expected 'list' (usage: shoal policy list [--json])\n");
        return SHOAL_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr,
                    "shoal: policy list: unexpected argument '%s' (usage: shoal policy "
                    "list [--json])\n",
                    argv[i]);
            return SHOAL_EXIT_USAGE;
        }
    }
    if (json)
        list_json();
    else
        list_text();
    return fflush(stdout) == 0 ? SHOAL_EXIT_OK : SHOAL_EXIT_FAIL;
}
