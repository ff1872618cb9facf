/* mod_tags' pure parts: RE2 -> ERE translation, Serf's filters (anchored
 * for members, unanchored for queries), the targeting expression, the tags
 * file in Serf's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "../modules/tags/filter.h"
#include "hm_regex.h"
#include "hm_tagsfile.h"

static hm_tag_t tv[] = {{"role", "web"}, {"dc", "east-1"}, {"cpu", "8"},
                        {"env", "prod"}, {"empty", ""},    {"mem", "15.5"}};
static hm_member_t m = {.name = "web-01",
                        .tags = {tv, 6},
                        .status = HM_STATUS_ALIVE,
                        .addr = {{127, 0, 0, 9}, 4, 7946}};

/* Rows whose answers t/tags_serf.sh checks against the real serf, plus
 * RE2 corners that go through the translation. */
static const struct {
    const char *filter;
    int members, query; /* anchored, unanchored; -1 = error */
} serf_rows[] = {
    {"role=web", 1, 1},
    {"role=eb", 0, 1},
    {"role=web|db", 1, 1},
    {"role=x|eb", 1, 1}, /* ^x|eb$: Serf's textual anchoring */
    {"role=x|e", 0, 1},
    {"role=(?:x|e)", 0, 1},
    {"role=(?i)WEB", 1, 1},
    {"role=\\d+", 0, 0},
    {"cpu=\\d+", 1, 1},
    {"cpu=[^0-9]", 0, 0},
    {"dc=east\\-1", 1, 1},
    {"dc=\\w+-\\d", 1, 1},
    {"dc=\\s*east-1\\s*", 1, 1},
    {"empty=", 1, 1},
    {"missing=", 1, 1},
    {"missing=.+", 0, 0},
    {"role=w.*\ndc=east.*", 1, 1},
    {"role=w.*\ndc=west", 0, 0},
    {"role=(", -1, -1},
    {"role=a\\1", -1, -1},
    {"=x", -1, -1},
    {"role", -1, -1},
    {"role=[\\d]", 0, 0},
    {"cpu=[\\d]", 1, 1},
    {"role=w[\\^]b", 0, 0},
    {"role=\\Qw.b\\E", 0, 0},
    {"role=\\Qweb\\E", 1, 1},
    {"role=we*?b", 1, 1},
    {"role=[]a]", 0, 0},
    {"role=[]w]eb", 1, 1},
};

static void test_serf(void)
{
    for (size_t i = 0; i < sizeof(serf_rows) / sizeof(serf_rows[0]); i++) {
        const char *err = NULL;
        char shown[64], *nl;
        snprintf(shown, sizeof(shown), "%s", serf_rows[i].filter);
        while ((nl = strchr(shown, '\n')) != NULL)
            *nl = ';'; /* one TAP line per test */
        is_int(tags_serf_match(serf_rows[i].filter, &m, true, &err), serf_rows[i].members,
               "members %s", shown);
        is_int(tags_serf_match(serf_rows[i].filter, &m, false, &err), serf_rows[i].query,
               "query   %s", shown);
    }
}

static void test_translate(void)
{
    static const struct {
        const char *re2, *ere;
        int icase;
    } rows[] = {
        {"(?:a|b)c", "(a|b)c", 0},    {"(?i)abc", "abc", 1},
        {"\\d\\D", "[0-9][^0-9]", 0}, {"a.b", "a[^\n]b", 0},
        {"\\.\\-\\/", "\\.-/", 0},    {"[\\w-]", "[0-9A-Za-z_-]", 0},
        {"\\Qa.b\\E+", "a\\.b+", 0},  {"a+?", "a+", 0},
        {"\\Ax\\z", "^x$", 0},        {"\\t", "\t", 0},
    };
    char out[128];
    bool ic;
    const char *err;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = hm_re_translate(rows[i].re2, out, sizeof(out), &ic, &err);
        int good = rc == 0 && strcmp(out, rows[i].ere) == 0 && ic == rows[i].icase;
        for (char *p = out; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = '~'; /* keep the TAP line whole */
        ok(good, "translate %s -> %s", rows[i].re2, rc == 0 ? out : err);
    }
    ok(hm_re_translate("(?P<x>a)", out, sizeof(out), &ic, &err) < 0, "named group refused");
    ok(hm_re_translate("(?s)a", out, sizeof(out), &ic, &err) < 0, "other flags refused");
    ok(hm_re_translate("\\pL", out, sizeof(out), &ic, &err) < 0, "\\p refused");
    ok(hm_re_translate("a\\", out, sizeof(out), &ic, &err) < 0, "trailing backslash");
    {
        hm_re_t r;
        ok(hm_re_compile(&r, "a.c", false, &err) == 0 && hm_re_match(&r, "abc") &&
               !hm_re_match(&r, "a\nc"),
           ". does not match a newline (RE2)");
        hm_re_free(&r);
    }
}

static void test_expr(void)
{
    static const struct {
        const char *src;
        int want;
    } rows[] = {
        {"", 1},
        {"role=web", 1},
        {"role=db", 0},
        {"role=web|db", 1},
        {"role=w*", 1},
        {"role!=web", 0},
        {"role=web,dc!=east-1", 0},
        {"role=web,dc!=west*", 1},
        {"cpu>=4", 1},
        {"cpu>8", 0},
        {"cpu<=8,cpu>7.5", 1},
        {"mem>15", 1},
        {"role>1", 0}, /* not numeric: never matches */
        {"missing<1", 0},
        {"!missing<1", 1},
        {"role", 1},
        {"missing", 0},
        {"!missing", 1},
        {"!role", 0},
        {"empty", 1},
        {"!!role", 1},
        {"dc~east-\\d", 1},
        {"dc~east", 0},
        {"dc!~east", 1},
        {"@name~web-\\d+", 1},
        {"@name=web-*", 1},
        {"@status=alive", 1},
        {"@addr=127.0.0.9", 1},
        {" role = web , cpu >= 4 ", 1},
        {"role=\"web\"", 1},
        {"dc=\"east-1\"|\"a,b\"", 1},
        {"role=web,env=prod|staging,cpu>=8,!maint", 1},
    };
    static const char *bad[] = {"cpu>=x", "=web", "role=web,,", "role=\"x", "dc~(", "role web"};
    const char *err;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        is_int(tags_expr_match(rows[i].src, &m, &err), rows[i].want, "expr '%s'", rows[i].src);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        int rc = tags_expr_match(bad[i], &m, &err);
        ok(rc < 0 && err != NULL, "bad expr '%s': %s", bad[i], err ? err : "(no error)");
    }
}

/* The tags file is the core's (core/hm_tagsfile.c, used by the agent for
 * tags_file): checked here against Go's bytes; t/tags_file.sh checks it
 * against the real serf. */
struct loaded {
    const hm_tags_t *want;
    size_t n, matched;
};

static int collect(void *ud, const char *key, const char *value)
{
    struct loaded *l = ud;

    l->n++;
    for (size_t i = 0; i < l->want->n; i++)
        if (strcmp(l->want->v[i].key, key) == 0 && strcmp(l->want->v[i].value, value) == 0)
            l->matched++;
    return 0;
}

static void test_file(void)
{
    char dir[] = "/tmp/hm-tags-XXXXXX", path[64], err[256];
    hm_tag_t t[] = {{"role", "web"}, {"a<b", "x&y\n\"q\""}, {"dc", "east"}};
    hm_tags_t set = {t, 3};
    struct loaded l = {&set, 0, 0};
    char *text;
    struct stat sb;

    text = hm_tagsfile_encode(&set);
    is_str(text,
           "{\n  \"a\\u003cb\": \"x\\u0026y\\n\\\"q\\\"\",\n  \"dc\": \"east\",\n"
           "  \"role\": \"web\"\n}",
           "encoded as Go's json.MarshalIndent (sorted, HTML-safe)");
    free(text);
    hm_tags_t none = {NULL, 0};
    text = hm_tagsfile_encode(&none);
    is_str(text, "{}", "no tags");
    free(text);

    ok(mkdtemp(dir) != NULL, "temp dir");
    snprintf(path, sizeof(path), "%s/tags", dir);
    is_int(hm_tagsfile_load(path, collect, &l, err, sizeof(err)), 1,
           "missing file: no tags, no error");
    ok(hm_tagsfile_save(path, &set, err, sizeof(err)) == 0, "saved");
    ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "mode 0600");
    ok(hm_tagsfile_load(path, collect, &l, err, sizeof(err)) == 0 && l.n == 3 && l.matched == 3,
       "loaded back equal");
    FILE *f = fopen(path, "w");
    fputs("{\"a\": 1}", f);
    fclose(f);
    ok(hm_tagsfile_load(path, collect, &l, err, sizeof(err)) < 0, "non-string value refused");
    f = fopen(path, "w");
    fputs("[\"a\"]", f);
    fclose(f);
    ok(hm_tagsfile_load(path, collect, &l, err, sizeof(err)) < 0, "non-object refused");
    unlink(path);
    rmdir(dir);
}

/* Random strings never crash the parsers (deterministic). */
static void test_garbage(void)
{
    static const char alphabet[] = "ab=!~<>|,\"\\()[]{}^$.*+?:@-0123456789 \t\ndwsQEiP";
    uint64_t x = 0x2545f4914f6cdd1dull;
    char s[64];
    int parsed = 0;

    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 40);
        const char *err;
        char ere[1024];
        bool ic;
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            s[j] = alphabet[x % (sizeof(alphabet) - 1)];
        }
        s[n] = 0;
        parsed += tags_expr_match(s, &m, &err) >= 0;
        tags_serf_match(s, &m, i & 1, &err);
        hm_re_translate(s, ere, sizeof(ere), &ic, &err);
    }
    ok(1, "20000 random expressions and regexps (%d expressions parsed)", parsed);
}

int main(void)
{
    test_serf();
    test_translate();
    test_expr();
    test_file();
    test_garbage();
    return done_testing();
}
