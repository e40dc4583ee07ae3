/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_rules_load() on arbitrary rule file contents and, when the file loads, the self-check
 * of its folder rules (which parses each "match" query). */
#include "nms-build.h"

#include "rules/rules.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *paths[] = { (char *) fuzz_write_tmp (data, size), NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsRules) rules = nms_rules_load (paths, &error);
    g_autoptr (GPtrArray) problems = NULL;

    if ((rules == NULL) == (error == NULL))
        __builtin_trap ();
    if (rules == NULL)
        return 0;
    problems = g_ptr_array_new_with_free_func (g_free);
    if (nms_rules_check_self (rules, problems) != problems->len)
        __builtin_trap ();
    return 0;
}
