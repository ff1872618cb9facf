/* Test helper: evaluates mod_tags' filters on a member described on the
 * command line and prints 1, 0 or "error: ...".
 *   tags-eval members|query|expr 'k=v,k=v' FILTER [NAME] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../modules/tags/filter.h"

int main(int argc, char **argv)
{
    hm_member_t m = {0};
    hm_tag_t tv[32];
    char *spec, *tok, *save = NULL;
    const char *err = NULL;
    int rc;

    if (argc < 4) {
        fprintf(stderr, "usage: tags-eval members|query|expr TAGS FILTER [NAME]\n");
        return 2;
    }
    spec = strdup(argv[2]);
    for (tok = strtok_r(spec, ",", &save); tok && m.tags.n < 32; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            continue;
        *eq = 0;
        tv[m.tags.n].key = tok;
        tv[m.tags.n].value = eq + 1;
        m.tags.n++;
    }
    m.tags.v = tv;
    m.name = argc > 4 ? argv[4] : "t1";
    m.status = HM_STATUS_ALIVE;
    if (strcmp(argv[1], "expr") == 0)
        rc = tags_expr_match(argv[3], &m, &err);
    else
        rc = tags_serf_match(argv[3], &m, strcmp(argv[1], "members") == 0, &err);
    if (rc < 0)
        printf("error: %s\n", err);
    else
        printf("%d\n", rc);
    free(spec);
    return 0;
}
