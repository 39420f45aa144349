/* common/json (JSON files as transformers and friends write them) and the EOS
 * precedence of model/config.c (generation_config.json > config.json).  Expected
 * values are written out by hand: 1000000000000000019884624838656 is the integer
 * Python's int(1e30) prints, whose nearest double is 1e30 exactly; positions are
 * counted in the test texts. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "model/model.h"

static char dir[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/yt-json-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void put(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void rm(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
}

static void teardown(void)
{
    const char *names[] = {"a.json", "config.json", "generation_config.json", NULL};
    for (int i = 0; names[i]; i++)
        rm(names[i]);
    rmdir(dir);
}

static json_t *load(const char *text, yt_err *e)
{
    put("a.json", text);
    char p[512];
    snprintf(p, sizeof p, "%s/a.json", dir);
    return yt_json_load_file(p, 0, e);
}

START_TEST(test_wild_numbers_and_bom)
{
    yt_err e = {{0}};
    json_t *j = load("\xEF\xBB\xBF{\"model_max_length\": 1000000000000000019884624838656, "
                     "\"neg\": -99999999999999999999, \"max\": 9223372036854775807, "
                     "\"min\": -9223372036854775808, \"f\": 0.5, \"e\": 1e30, "
                     "\"s\": \"1000000000000000019884624838656 NaN\", \"n\": NaN, "
                     "\"inf\": [Infinity, -Infinity]}",
                     &e);
    ck_assert_msg(j != NULL, "%s", e.msg);
    json_t *m = json_object_get(j, "model_max_length");
    ck_assert(json_is_real(m));
    ck_assert(json_real_value(m) == 1e30);
    ck_assert(json_real_value(json_object_get(j, "neg")) == -1e20);
    ck_assert(json_is_integer(json_object_get(j, "max")));
    ck_assert(json_integer_value(json_object_get(j, "max")) == INT64_MAX);
    ck_assert(json_integer_value(json_object_get(j, "min")) == INT64_MIN);
    ck_assert(json_real_value(json_object_get(j, "f")) == 0.5);
    ck_assert(json_real_value(json_object_get(j, "e")) == 1e30);
    ck_assert_str_eq(json_string_value(json_object_get(j, "s")),
                     "1000000000000000019884624838656 NaN");
    ck_assert(json_is_null(json_object_get(j, "n")));
    ck_assert(json_is_null(json_array_get(json_object_get(j, "inf"), 0)));
    ck_assert(json_is_null(json_array_get(json_object_get(j, "inf"), 1)));
    json_decref(j);
}
END_TEST

START_TEST(test_error_positions)
{
    yt_err e = {{0}};
    /* ']' is line 3, column 8 */
    ck_assert_ptr_null(load("{\n  \"a\": 1,\n  \"b\": ]\n}", &e));
    ck_assert_msg(strstr(e.msg, "a.json:3:8: invalid JSON") != NULL, "%s", e.msg);
    /* a rewritten big integer earlier on the same line does not shift the column:
     * the stray x is column 45 of the original line */
    ck_assert_ptr_null(load("{\"m\": 1000000000000000019884624838656, \"k\": x}", &e));
    ck_assert_msg(strstr(e.msg, "a.json:1:45:") != NULL, "%s", e.msg);
    /* a BOM is not a column */
    ck_assert_ptr_null(load("\xEF\xBB\xBF{\"a\" 1}", &e));
    ck_assert_msg(strstr(e.msg, "a.json:1:6:") != NULL, "%s", e.msg);
    /* beyond double range */
    char big[400] = "{\"x\": ";
    memset(big + 6, '9', 330);
    strcpy(big + 336, "}");
    ck_assert_ptr_null(load(big, &e));
    ck_assert_msg(strstr(e.msg, "a.json:1:7: invalid JSON: number beyond the range") != NULL, "%s",
                  e.msg);
    /* size bound, missing file */
    put("a.json", "{\"a\": \"0123456789\"}");
    char p[512];
    snprintf(p, sizeof p, "%s/a.json", dir);
    ck_assert_ptr_null(yt_json_load_file(p, 10, &e));
    ck_assert_msg(strstr(e.msg, "19 bytes, more than the 10 allowed") != NULL, "%s", e.msg);
    snprintf(p, sizeof p, "%s/none.json", dir);
    ck_assert_ptr_null(yt_json_load_file(p, 0, &e));
    ck_assert_msg(strstr(e.msg, "none.json: cannot open") != NULL, "%s", e.msg);
}
END_TEST

#define CONFIG(eos)                                                                             \
    "{\"model_type\": \"llama\", \"vocab_size\": 32, \"hidden_size\": 8, "                     \
    "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "        \
    "\"max_position_embeddings\": 1000000000000000019884624838656" eos "}"

START_TEST(test_eos_precedence)
{
    yt_err e = {{0}};
    yt_config c;
    int64_t eos;
    char src[600];
    put("config.json", CONFIG(", \"eos_token_id\": 2"));
    put("generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [5, 7]}");
    /* a config.json with max_position_embeddings 1e30 is out of int range: refused */
    ck_assert_int_ne(yt_config_load(&c, dir, &e), 0);
    ck_assert_msg(strstr(e.msg, "max_position_embeddings") != NULL, "%s", e.msg);
    put("config.json", "{\"model_type\": \"llama\", \"vocab_size\": 32, \"hidden_size\": 8, "
                       "\"intermediate_size\": 16, \"num_hidden_layers\": 1, "
                       "\"num_attention_heads\": 2, \"eos_token_id\": 2, "
                       "\"rope_scaling\": null, \"pad\": 1000000000000000019884624838656}");
    ck_assert_msg(yt_config_load(&c, dir, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(c.eos_id, 5);
    ck_assert_int_eq(yt_model_eos_id(dir, &eos, src, sizeof src, &e), 0);
    ck_assert_int_eq(eos, 5);
    ck_assert(strstr(src, "generation_config.json") != NULL);
    rm("generation_config.json");
    ck_assert_int_eq(yt_config_load(&c, dir, &e), 0);
    ck_assert_int_eq(c.eos_id, 2);
    ck_assert_int_eq(yt_model_eos_id(dir, &eos, src, sizeof src, &e), 0);
    ck_assert_int_eq(eos, 2);
    ck_assert(strstr(src, "/config.json") != NULL);
    put("config.json", "{\"model_type\": \"llama\", \"vocab_size\": 32, \"hidden_size\": 8, "
                       "\"intermediate_size\": 16, \"num_hidden_layers\": 1, "
                       "\"num_attention_heads\": 2}");
    ck_assert_int_eq(yt_config_load(&c, dir, &e), 0);
    ck_assert_int_eq(c.eos_id, -1);
    put("generation_config.json", "{\"eos_token_id\": \"</s>\"}");
    ck_assert_int_ne(yt_model_eos_id(dir, &eos, src, sizeof src, &e), 0);
    ck_assert_msg(strstr(e.msg, "generation_config.json: key 'eos_token_id'") != NULL, "%s", e.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_wild_numbers_and_bom);
    tcase_add_test(tc, test_error_positions);
    tcase_add_test(tc, test_eos_precedence);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
