/*
 * test-json: the writer against exact expected text (commas, escaping,
 * invalid UTF-8, shortest round-trip doubles, non-finite as null), its
 * misuse aborting; the parser on valid documents (structure, decoded
 * strings, surrogate pairs, exact 64-bit integers, depth limit) and on a
 * table of malformed texts, each refused with RANDES_EDATA and a position.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

static char *finish(struct json_writer *w)
{
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(json_writer_status(w, err), 0);
	ck_assert_uint_eq(strlen(w->buf), w->len);
	return w->buf;
}

START_TEST(json_write_document)
{
	struct json_writer w;

	json_writer_init(&w);
	json_writer_object_begin(&w);
	json_writer_key(&w, "g");
	json_writer_uint(&w, 18446744073709551615ull);
	json_writer_key(&w, "i");
	json_writer_int(&w, -9223372036854775807ll - 1);
	json_writer_key(&w, "list");
	json_writer_array_begin(&w);
	json_writer_double(&w, 0.1);
	json_writer_bool(&w, 1);
	json_writer_bool(&w, 0);
	json_writer_null(&w);
	json_writer_array_begin(&w);
	json_writer_array_end(&w);
	json_writer_object_begin(&w);
	json_writer_object_end(&w);
	json_writer_raw(&w, "{\"x\":[1,2]}");
	json_writer_array_end(&w);
	json_writer_key(&w, "s");
	json_writer_string(&w, "a\"b\\c");
	json_writer_object_end(&w);
	ck_assert_str_eq(finish(&w),
			 "{\"g\":18446744073709551615,"
			 "\"i\":-9223372036854775808,"
			 "\"list\":[0.1,true,false,null,[],{},{\"x\":[1,2]}],"
			 "\"s\":\"a\\\"b\\\\c\"}");

	/* reset keeps the buffer and starts a new document */
	json_writer_reset(&w);
	json_writer_array_begin(&w);
	json_writer_int(&w, 1);
	json_writer_int(&w, 2);
	json_writer_array_end(&w);
	ck_assert_str_eq(finish(&w), "[1,2]");
	json_writer_free(&w);
}
END_TEST

START_TEST(json_write_escapes)
{
	struct json_writer w;
	/* control characters, a 2-, 3- and 4-byte sequence, a stray
	 * continuation byte, an overlong '/', a truncated sequence */
	const char in[] = "\n\t\r\b\f\x01\x1f" "\xc3\xa9" "\xe2\x82\xac"
			  "\xf0\x9f\x98\x80" "\x80" "\xc0\xaf" "\xe2\x82";

	json_writer_init(&w);
	json_writer_string_n(&w, in, sizeof(in) - 1);
	ck_assert_str_eq(finish(&w),
			 "\"\\n\\t\\r\\b\\f\\u0001\\u001f" "\xc3\xa9"
			 "\xe2\x82\xac" "\xf0\x9f\x98\x80"
			 "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	json_writer_reset(&w);
	json_writer_string_n(&w, "a\0b", 3);
	ck_assert_str_eq(finish(&w), "\"a\\u0000b\"");
	json_writer_free(&w);
}
END_TEST

static const double doubles[] = {
	0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-300, 5e-324, -0.0, 0.0, 1e21,
	123456789012345678.0, DBL_MAX, -DBL_MIN, 3.0, 0.30000000000000004,
	100.0, 1e-7,
};

START_TEST(json_write_doubles_round_trip)
{
	struct json_writer w;
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];
	double v = doubles[_i];

	json_writer_init(&w);
	json_writer_double(&w, v);
	finish(&w);
	ck_assert_int_eq(json_parse(w.buf, w.len, &doc, err), 0);
	ck_assert_int_eq(json_doc_root(doc)->type, JSON_NUMBER);
	ck_assert_msg(!memcmp(&json_doc_root(doc)->number, &v, sizeof(v)),
		      "%.17g written as %s", v, w.buf);
	ck_assert_msg(w.len <= 24, "%s is not the shortest form", w.buf);
	json_doc_free(doc);
	json_writer_free(&w);
}
END_TEST

START_TEST(json_write_nonfinite)
{
	struct json_writer w;

	json_writer_init(&w);
	json_writer_array_begin(&w);
	json_writer_double(&w, NAN);
	json_writer_double(&w, INFINITY);
	json_writer_double(&w, -INFINITY);
	json_writer_double(&w, 0.5);
	json_writer_array_end(&w);
	ck_assert_str_eq(finish(&w), "[null,null,null,0.5]");
	json_writer_free(&w);
}
END_TEST

START_TEST(json_write_value_without_key)
{
	struct json_writer w;

	json_writer_init(&w);
	json_writer_object_begin(&w);
	json_writer_int(&w, 1); /* aborts */
}
END_TEST

START_TEST(json_write_unbalanced)
{
	struct json_writer w;

	json_writer_init(&w);
	json_writer_array_begin(&w);
	json_writer_object_end(&w); /* aborts */
}
END_TEST

START_TEST(json_write_two_documents)
{
	struct json_writer w;

	json_writer_init(&w);
	json_writer_int(&w, 1);
	json_writer_int(&w, 2); /* aborts: one value per document */
}
END_TEST

/* --- parser -------------------------------------------------------------- */

START_TEST(json_parse_document)
{
	const char *text =
		" {\"a\": [1, -0.5e2, 1E+2, true, false, null],\n"
		"  \"s\": \"x\\u00e9\\ud83d\\ude00\\n\\/\\u0000y\",\n"
		"  \"o\": {\"big\": 18446744073709551615, \"neg\": -3},\n"
		"  \"e\": {}, \"E\": [] } \r\n";
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];
	const struct json_value *r, *a, *s, *o;
	uint64_t u;

	ck_assert_msg(json_parse(text, strlen(text), &doc, err) == 0, "%s", err);
	r = json_doc_root(doc);
	ck_assert_int_eq(r->type, JSON_OBJECT);
	ck_assert_uint_eq(r->n_items, 5);
	ck_assert_str_eq(r->items[0].key, "a"); /* document order */
	ck_assert_str_eq(r->items[4].key, "E");
	a = json_object_get(r, "a");
	ck_assert(a && a->type == JSON_ARRAY && a->n_items == 6);
	ck_assert(a->items[0].number == 1.0 && a->items[1].number == -50.0 &&
		  a->items[2].number == 100.0);
	ck_assert(a->items[3].type == JSON_BOOL && a->items[3].boolean);
	ck_assert(a->items[4].type == JSON_BOOL && !a->items[4].boolean);
	ck_assert(a->items[5].type == JSON_NULL);
	ck_assert(a->items[0].key == NULL);
	s = json_object_get(r, "s");
	ck_assert(s && s->type == JSON_STRING);
	ck_assert_uint_eq(s->str_len, 11);
	ck_assert(!memcmp(s->str, "x\xc3\xa9\xf0\x9f\x98\x80\n/\0y", 11));
	o = json_object_get(r, "o");
	ck_assert_int_eq(json_number_u64(json_object_get(o, "big"), &u), 0);
	ck_assert(u == UINT64_MAX);
	ck_assert_int_eq(json_number_u64(json_object_get(o, "neg"), &u), -1);
	ck_assert(json_object_get(r, "missing") == NULL);
	ck_assert(json_object_get(a, "a") == NULL); /* not an object */
	ck_assert_uint_eq(json_object_get(r, "e")->n_items, 0);
	ck_assert_int_eq(json_object_get(r, "E")->type, JSON_ARRAY);
	json_doc_free(doc);
}
END_TEST

START_TEST(json_parse_u64)
{
	static const struct {
		const char *text;
		int ok;
		uint64_t want;
	} cases[] = {
		{"0", 1, 0},
		{"18446744073709551615", 1, UINT64_MAX},
		{"18446744073709551616", 0, 0},
		{"1.0", 0, 0},
		{"1e3", 0, 0},
		{"-1", 0, 0},
		{"\"5\"", 0, 0},
		{"9007199254740993", 1, 9007199254740993ull}, /* not a double */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_doc *doc;
		char err[RANDES_ERR_LEN];
		uint64_t u = 7;

		ck_assert(json_parse(cases[i].text, strlen(cases[i].text), &doc,
				     err) == 0);
		ck_assert_int_eq(json_number_u64(json_doc_root(doc), &u),
				 cases[i].ok ? 0 : -1);
		if (cases[i].ok)
			ck_assert(u == cases[i].want);
		json_doc_free(doc);
	}
}
END_TEST

START_TEST(json_parse_depth)
{
	char text[2 * JSON_MAX_DEPTH + 4];
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];

	for (int d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
		memset(text, '[', (size_t)d);
		memset(text + d, ']', (size_t)d);
		if (d == JSON_MAX_DEPTH) {
			ck_assert_int_eq(json_parse(text, 2 * (size_t)d, &doc, err),
					 0);
			json_doc_free(doc);
		} else {
			ck_assert_int_eq(json_parse(text, 2 * (size_t)d, &doc, err),
					 RANDES_EDATA);
			ck_assert_msg(strstr(err, "deep"), "%s", err);
			ck_assert(doc == NULL);
		}
	}
}
END_TEST

/* The writer's output parses back to the same strings and numbers. */
START_TEST(json_round_trip)
{
	struct json_writer w;
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];
	const char key[] = "k\"\\\x01\xc3\xa9";
	const struct json_value *r;

	json_writer_init(&w);
	json_writer_object_begin(&w);
	json_writer_key(&w, key);
	json_writer_string(&w, "v\n\t\"x\"");
	json_writer_key(&w, "n");
	json_writer_double(&w, -1.25e-5);
	json_writer_object_end(&w);
	finish(&w);
	ck_assert_msg(json_parse(w.buf, w.len, &doc, err) == 0, "%s", err);
	r = json_doc_root(doc);
	ck_assert_str_eq(r->items[0].key, key);
	ck_assert_str_eq(r->items[0].str, "v\n\t\"x\"");
	ck_assert(json_object_get(r, "n")->number == -1.25e-5);
	json_doc_free(doc);
	json_writer_free(&w);
}
END_TEST

static const struct {
	const char *text;
	const char *what; /* substring of the message */
} bad[] = {
	{"", "end of the text"},
	{"   ", "end of the text"},
	{"{", "key"},
	{"[", "end of the text"},
	{"[1,]", "trailing comma"},
	{"{\"a\":1,}", "trailing comma"},
	{"[1 2]", "',' or ']'"},
	{"{\"a\" 1}", "':'"},
	{"{1:2}", "key"},
	{"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
	{"{\"b\":1,\"a\":{},\"b\":2}", "duplicate key \"b\""},
	{"01", "leading zero"},
	{"-01", "leading zero"},
	{"1.", "after '.'"},
	{".5", "invalid value"},
	{"-", "invalid value"},
	{"+1", "invalid value"},
	{"1e", "exponent"},
	{"1e+", "exponent"},
	{"1e999", "range"},
	{"-1e999", "range"},
	{"NaN", "invalid value"},
	{"Infinity", "invalid value"},
	{"tru", "invalid value"},
	{"nul", "invalid value"},
	{"True", "invalid value"},
	{"'a'", "invalid value"},
	{"// c\n1", "invalid value"},
	{"[1] 2", "after the value"},
	{"1 /* c */", "after the value"},
	{"\"abc", "unterminated"},
	{"\"abc\\", "unterminated"},
	{"\"a\x01\"", "control character"},
	{"\"a\nb\"", "control character"},
	{"\"\\x\"", "unknown escape"},
	{"\"\\u12\"", "\\u escape"},
	{"\"\\u12g4\"", "\\u escape"},
	{"\"\\ud800\"", "high surrogate"},
	{"\"\\ud800\\u0041\"", "high surrogate"},
	{"\"\\udc00\"", "low surrogate"},
	{"\"\xff\"", "UTF-8"},
	{"\"\xc0\xaf\"", "UTF-8"},
	{"\"\xed\xa0\x80\"", "UTF-8"},     /* an encoded surrogate */
	{"\"\xf4\x90\x80\x80\"", "UTF-8"}, /* above U+10FFFF */
	{"\"\xe2\x82\"", "UTF-8"},
};

START_TEST(json_parse_rejects)
{
	struct json_doc *doc = (struct json_doc *)1;
	char err[RANDES_ERR_LEN] = "";
	int rc = json_parse(bad[_i].text, strlen(bad[_i].text), &doc, err);

	ck_assert_msg(rc == RANDES_EDATA, "'%s' accepted (rc %d)", bad[_i].text,
		      rc);
	ck_assert(doc == NULL);
	ck_assert_msg(strstr(err, bad[_i].what) && strstr(err, "line 1"),
		      "'%s': message '%s' lacks '%s'", bad[_i].text, err,
		      bad[_i].what);
}
END_TEST

START_TEST(json_parse_position)
{
	const char *text = "{\"a\": [1,\n  x]}";
	struct json_doc *doc;
	char err[RANDES_ERR_LEN];

	ck_assert_int_eq(json_parse(text, strlen(text), &doc, err), RANDES_EDATA);
	ck_assert_msg(strstr(err, "line 2, column 3"), "%s", err);
	/* The length is respected: a valid prefix of a longer buffer. */
	ck_assert_int_eq(json_parse("[1]xyz", 3, &doc, err), 0);
	json_doc_free(doc);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json:writer");

	tcase_add_test(tc, json_write_document);
	tcase_add_test(tc, json_write_escapes);
	tcase_add_loop_test(tc, json_write_doubles_round_trip, 0,
			    sizeof(doubles) / sizeof(doubles[0]));
	tcase_add_test(tc, json_write_nonfinite);
	/* Aborting tests need a fork per test (not under CK_FORK=no, as the
	 * valgrind setup runs). */
	if (!getenv("CK_FORK") || strcmp(getenv("CK_FORK"), "no")) {
		tcase_add_test_raise_signal(tc, json_write_value_without_key,
					    SIGABRT);
		tcase_add_test_raise_signal(tc, json_write_unbalanced, SIGABRT);
		tcase_add_test_raise_signal(tc, json_write_two_documents,
					    SIGABRT);
	}
	suite_add_tcase(s, tc);

	tc = tcase_create("json:parser");
	tcase_add_test(tc, json_parse_document);
	tcase_add_test(tc, json_parse_u64);
	tcase_add_test(tc, json_parse_depth);
	tcase_add_test(tc, json_round_trip);
	tcase_add_loop_test(tc, json_parse_rejects, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, json_parse_position);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
