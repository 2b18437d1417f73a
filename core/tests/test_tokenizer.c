/*
 * Tests for the tokenizer.json pipeline (core/src/text): each component on small inline tokenizers,
 * the real BERT fixture, bad inputs (malformed JSON, wrong types, absurd ids, bad regexes, invalid UTF-8),
 * out-of-memory at every allocation, and concurrent encoding. The parity suite against the Hugging Face
 * library is tools/suites/tokenizers.sh; these run without node.
 */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>

#include "pgml/tokenizer.h"

static const char *
fixture_path(const char *name)
{
	static char buf[512];
	FILE	   *f;

	snprintf(buf, sizeof(buf), "tests/fixtures/tokenizers/%s", name);
	if ((f = fopen(buf, "r")) != NULL)
	{
		fclose(f);
		return buf;
	}
	snprintf(buf, sizeof(buf), "core/tests/fixtures/tokenizers/%s", name);
	return buf;
}

static pgml_tokenizer *
load(const char *json)
{
	pgml_tokenizer *t = NULL;
	pgml_err	err;

	if (pgml_tokenizer_load_json(json, strlen(json), &t, &err) != PGML_OK)
	{
		test_fail(__FILE__, __LINE__, "load failed: %s (%s)", err.msg, err.detail);
		return NULL;
	}
	return t;
}

static pgml_status
load_err(const char *json, pgml_err *err)
{
	pgml_tokenizer *t = NULL;
	pgml_status st = pgml_tokenizer_load_json(json, strlen(json), &t, err);

	pgml_tokenizer_free(t);
	return st;
}

/* "id:begin:end ..." of text (without special tokens unless special). */
static char *
enc_str(const pgml_tokenizer *t, const char *text, bool special)
{
	static char buf[4096];
	pgml_encoding e;
	pgml_encode_opts o;
	pgml_err	err;
	size_t		k = 0;

	pgml_encode_opts_init(&o);
	o.add_special_tokens = special;
	buf[0] = '\0';
	if (pgml_tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e, &err) != PGML_OK)
	{
		snprintf(buf, sizeof(buf), "error: %s", err.msg);
		return buf;
	}
	for (size_t i = 0; i < e.n && k < sizeof(buf) - 40; i++)
		k += (size_t) snprintf(buf + k, sizeof(buf) - k, "%s%d:%u:%u", i ? " " : "", e.ids[i], e.offsets[2 * i],
							   e.offsets[2 * i + 1]);
	pgml_encoding_free(&e);
	return buf;
}

static char *
dec_str(const pgml_tokenizer *t, const int32_t *ids, size_t n, bool skip)
{
	static char buf[1024];
	char	   *d;
	pgml_err	err;

	if (pgml_tokenizer_decode(t, ids, n, skip, &d, &err) != PGML_OK)
		return strcpy(buf, "error");
	snprintf(buf, sizeof(buf), "%s", d);
	pgml_free(d);
	return buf;
}

/* ---------------------------------------------------------------------------------------------------
 * The real BERT (all-MiniLM-L6-v2) tokenizer
 * ------------------------------------------------------------------------------------------------- */

TEST(tokenizer_bert_fixture)
{
	pgml_tokenizer *t = NULL;
	pgml_err	err;
	pgml_encoding e;
	pgml_encode_opts o;
	const char *s = "Hello, world! Café 北京";

	REQUIRE(pgml_tokenizer_load_file(fixture_path("bert-minilm.json"), &t, &err) == PGML_OK);
	CHECK_INT(pgml_tokenizer_vocab_size(t), 30522);
	CHECK_INT(pgml_tokenizer_token_to_id(t, "[CLS]"), 101);
	CHECK_INT(pgml_tokenizer_token_to_id(t, "hello"), 7592);
	CHECK_INT(pgml_tokenizer_token_to_id(t, "no such token"), -1);
	CHECK_STR(pgml_tokenizer_id_to_token(t, 2088), "world");
	CHECK(pgml_tokenizer_id_to_token(t, -5) == NULL);
	CHECK(pgml_tokenizer_id_to_token(t, 1 << 30) == NULL);
	CHECK_INT(pgml_tokenizer_pad_id(t), 0);
	/* BertNormalizer (lowercase, accents, Chinese chars), BertPreTokenizer, WordPiece, byte offsets */
	{
		const char *want = "7592:0:5 1010:5:6 2088:7:12 999:12:13 7668:14:19 1781:20:23 1755:23:26 0:0:0 ";

		CHECK(strncmp(enc_str(t, s, false), want, strlen(want)) == 0);
	}
	pgml_encode_opts_init(&o);
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), NULL, 0, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.n, 128);			/* tokenizer.json pads to 128 */
	CHECK_INT(e.ids[0], 101);
	CHECK_INT(e.ids[8], 102);
	CHECK_INT(e.special_mask[0], 1);
	CHECK_INT(e.special_mask[1], 0);
	CHECK_INT(e.attention_mask[8], 1);
	CHECK_INT(e.attention_mask[9], 0);
	CHECK_INT(e.sequence_ids[0], -1);
	CHECK_INT(e.sequence_ids[1], 0);
	CHECK_INT(e.sequence_ids[9], -1);
	pgml_encoding_free(&e);
	/* opts: no truncation beyond max_length 5 → truncated; pad_to beyond the fixed 128 */
	o.max_length = 5;
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), NULL, 0, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.ids[0], 101);
	CHECK_INT(e.ids[1], 7592);
	CHECK_INT(e.ids[4], 102);
	CHECK_INT(e.attention_mask[5], 0);
	pgml_encoding_free(&e);
	o.max_length = 0;
	o.pad_to = 200;
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), "second", 6, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.n, 200);
	CHECK_INT(e.ids[9], 2117);
	CHECK_INT(e.type_ids[9], 1);
	CHECK_INT(e.sequence_ids[9], 1);
	CHECK_INT(e.ids[10], 102);
	CHECK_INT(e.type_ids[10], 1);
	pgml_encoding_free(&e);
	/* long text: truncation to 128 from tokenizer.json; truncate=false keeps everything */
	{
		char		big[4000];

		for (int i = 0; i < 500; i++)
			memcpy(big + 6 * i, "hello ", 6);
		big[3000] = '\0';
		pgml_encode_opts_init(&o);
		REQUIRE(pgml_tokenizer_encode(t, big, 3000, NULL, 0, &o, &e, &err) == PGML_OK);
		CHECK_INT(e.n, 128);
		CHECK_INT(e.ids[127], 102);
		pgml_encoding_free(&e);
		o.truncate = false;
		REQUIRE(pgml_tokenizer_encode(t, big, 3000, NULL, 0, &o, &e, &err) == PGML_OK);
		CHECK_INT(e.n, 502);
		pgml_encoding_free(&e);
		/* pairs: longest first */
		pgml_encode_opts_init(&o);
		REQUIRE(pgml_tokenizer_encode(t, big, 3000, "short text", 10, &o, &e, &err) == PGML_OK);
		CHECK_INT(e.n, 128);
		CHECK_INT(e.ids[124], 102);
		CHECK_INT(e.ids[125], 2460);
		CHECK_INT(e.ids[127], 102);
		pgml_encoding_free(&e);
	}
	/* decode: WordPiece decoder with cleanup */
	{
		int32_t		ids[] = {101, 7592, 1010, 2088, 999, 102};

		CHECK_STR(dec_str(t, ids, 6, true), "hello, world!");
		CHECK_STR(dec_str(t, ids, 6, false), "[CLS] hello, world! [SEP]");
	}
	pgml_tokenizer_free(t);
}

TEST(tokenizer_invalid_utf8)
{
	pgml_tokenizer *t = NULL;
	pgml_err	err;
	pgml_encoding e;
	static const char *const bad[] = {"\xff", "abc\xc3", "\xc3\x28", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80",
	"ok\xe2\x82"};

	REQUIRE(pgml_tokenizer_load_file(fixture_path("bert-minilm.json"), &t, &err) == PGML_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		CHECK_INT(pgml_tokenizer_encode(t, bad[i], strlen(bad[i]), NULL, 0, NULL, &e, &err), PGML_ERR_DATA);
		CHECK_STR(pgml_err_get_sqlstate(&err), "22021");
		CHECK(e.ids == NULL);
		/* in the pair too */
		CHECK_INT(pgml_tokenizer_encode(t, "ok", 2, bad[i], strlen(bad[i]), NULL, &e, &err), PGML_ERR_DATA);
	}
	/* NUL inside the text is fine (len says where it ends) and the empty string encodes */
	CHECK_INT(pgml_tokenizer_encode(t, "a\0b", 3, NULL, 0, NULL, &e, &err), PGML_OK);
	pgml_encoding_free(&e);
	CHECK_INT(pgml_tokenizer_encode(t, NULL, 0, NULL, 0, NULL, &e, &err), PGML_OK);
	CHECK_INT(e.n, 128);
	pgml_encoding_free(&e);
	CHECK_INT(pgml_tokenizer_encode(t, "x", 1, NULL, 0, NULL, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	pgml_tokenizer_free(t);
}

/* ---------------------------------------------------------------------------------------------------
 * Hostile tokenizer.json
 * ------------------------------------------------------------------------------------------------- */

#define WL_VOCAB "\"vocab\": {\"[UNK]\": 0, \"a\": 1, \"b\": 2, \"ab\": 3, \"c\": 4}"

TEST(tokenizer_bad_json)
{
	pgml_err	err;
	pgml_tokenizer *t = (pgml_tokenizer *) 1;

	CHECK_INT(load_err("{\"model\": ", &err), PGML_ERR_DATA);	/* truncated */
	CHECK_INT(load_err("[]", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{}", &err), PGML_ERR_DATA);	/* no model */
	CHECK_INT(load_err("{\"model\": 5}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": 7}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"Magic\"}}", &err), PGML_ERR_NOT_SUPPORTED);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", \"vocab\": [1, 2]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": \"x\"}}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": -1}}}", &err), PGML_ERR_LIMIT);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 99999999999}}}", &err), PGML_ERR_LIMIT);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 1.5}}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordLevel\", " WL_VOCAB ", \"unk_token\": \"<nope>\"}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"WordPiece\", " WL_VOCAB "}}", &err), PGML_ERR_DATA);	/* no unk */
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"merges\": [\"a\"]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"merges\": [\"a z\"]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"merges\": [[\"a\", 3]]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"merges\": [\"b c\"]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"merges\": {}}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"BPE\", " WL_VOCAB ", \"dropout\": 0.1}}", &err), PGML_ERR_NOT_SUPPORTED);
	CHECK_INT(load_err("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\"]]}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1]], \"unk_id\": 5}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", &err), PGML_ERR_DATA);
	/* components */
	CHECK_INT(load_err("{\"normalizer\": {\"type\": \"Nope\"}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_NOT_SUPPORTED);
	CHECK_INT(load_err("{\"normalizer\": 3, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": 1}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"normalizer\": {\"type\": \"Lowercase\", \"x\": 1}, \"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(unclosed\"}, \"behavior\": \"Isolated\"}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK(strstr(err.msg, "regex") != NULL);
	CHECK_INT(load_err("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"x\"}, \"behavior\": \"Sideways\"}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": 4}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"[X]\"}}], \"special_tokens\": {}}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\", -3], \"sep\": [\"[SEP]\", 1]}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": -1}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_DATA);
	CHECK_INT(load_err("{\"added_tokens\": [{\"id\": 1}], \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"added_tokens\": [{\"id\": 4294967296, \"content\": \"x\"}], \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err),
			  PGML_ERR_LIMIT);
	CHECK_INT(load_err("{\"truncation\": {\"max_length\": -4}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err), PGML_ERR_DATA);
	CHECK_INT(load_err("{\"padding\": {\"strategy\": {\"Fixed\": \"x\"}}, \"model\": {\"type\": \"WordLevel\", " WL_VOCAB "}}", &err), PGML_ERR_DATA);
	CHECK_INT(pgml_tokenizer_load_json(NULL, 0, &t, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_tokenizer_load_file("/nonexistent/tokenizer.json", &t, &err), PGML_ERR_NOT_FOUND);
	pgml_tokenizer_free(NULL);
}

/* ---------------------------------------------------------------------------------------------------
 * Components on small tokenizers
 * ------------------------------------------------------------------------------------------------- */

#define SPLIT_TOK(pat, beh, inv) \
	"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": " pat ", \"behavior\": \"" beh "\", \"invert\": " inv "}," \
	"\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0}, \"unk_token\": \"[UNK]\"}}"

static void
check_split(const char *json, const char *text, const char *want)
{
	pgml_tokenizer *t = load(json);

	if (t == NULL)
		return;
	CHECK_STR(enc_str(t, text, false), want);
	pgml_tokenizer_free(t);
}

TEST(tokenizer_split_behaviours)
{
	const char *s = "a--b-c";

	check_split(SPLIT_TOK("{\"String\": \"-\"}", "Removed", "false"), s, "0:0:1 0:3:4 0:5:6");
	check_split(SPLIT_TOK("{\"String\": \"-\"}", "Isolated", "false"), s, "0:0:1 0:1:2 0:2:3 0:3:4 0:4:5 0:5:6");
	check_split(SPLIT_TOK("{\"String\": \"-\"}", "MergedWithPrevious", "false"), s, "0:0:2 0:2:3 0:3:5 0:5:6");
	check_split(SPLIT_TOK("{\"String\": \"-\"}", "MergedWithNext", "false"), s, "0:0:1 0:1:2 0:2:4 0:4:6");
	check_split(SPLIT_TOK("{\"String\": \"-\"}", "Contiguous", "false"), s, "0:0:1 0:1:3 0:3:4 0:4:5 0:5:6");
	check_split(SPLIT_TOK("{\"Regex\": \"-+\"}", "Removed", "false"), s, "0:0:1 0:3:4 0:5:6");
	check_split(SPLIT_TOK("{\"Regex\": \"\\\\p{L}\"}", "Removed", "true"), s, "0:0:1 0:3:4 0:5:6");
	check_split(SPLIT_TOK("{\"Regex\": \"x\"}", "Removed", "false"), s, "0:0:6");
	check_split(SPLIT_TOK("{\"String\": \"-\"}", "Removed", "false"), "", "");
}

TEST(tokenizer_pretokenizers)
{
	check_split("{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0}, \"unk_token\": \"[UNK]\"}}",
				"hi, you!!  x", "0:0:2 0:2:3 0:4:7 0:7:9 0:11:12");
	check_split("{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0}, \"unk_token\": \"[UNK]\"}}",
				"hi, you!!\u3000x", "0:0:3 0:4:9 0:12:13");
	check_split("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Punctuation\"}, {\"type\": \"Digits\", \"individual_digits\": true}]}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0}, \"unk_token\": \"[UNK]\"}}",
				"ab12.c", "0:0:2 0:2:3 0:3:4 0:4:5 0:5:6");
	check_split("{\"pre_tokenizer\": {\"type\": \"Digits\", \"individual_digits\": false}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0}, \"unk_token\": \"[UNK]\"}}",
				"ab123c", "0:0:2 0:2:5 0:5:6");
	/* Metaspace: spaces become ▁, prefix on the first word, split before each ▁ */
	check_split("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\u2581\", \"prepend_scheme\": \"always\", \"split\": true}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"\u2581hi\": 1, \"\u2581you\": 2}, \"unk_token\": \"[UNK]\"}}",
				"hi you", "1:0:2 2:2:6");
	/* ByteLevel with the GPT-2 regex: "Ġ" marks the space */
	check_split("{\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"hi\": 1, \"\u0120you\": 2, \"\u00c3\u00a9\": 3}, \"unk_token\": \"[UNK]\"}}",
				"hi you \xc3\xa9", "1:0:2 2:2:6 0:6:9");
}

TEST(tokenizer_normalizers)
{
	/* NFD + StripAccents + Lowercase, Replace, Prepend, Strip */
	check_split("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFD\"}, {\"type\": \"StripAccents\"}, {\"type\": \"Lowercase\"}]},"
				"\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"cafe\": 1}, \"unk_token\": \"[UNK]\"}}",
				"CAF\xc3\x89 Caf\xc3\xa9", "1:0:5 1:6:11");
	check_split("{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"fi\": 1}, \"unk_token\": \"[UNK]\"}}",
				"\xef\xac\x81", "1:0:3");
	check_split("{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"\xc3\xa9\": 1}, \"unk_token\": \"[UNK]\"}}",
				"e\xcc\x81", "1:0:1");
	check_split("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Strip\", \"strip_left\": true, \"strip_right\": true}, {\"type\": \"Prepend\", \"prepend\": \"_\"}, {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"_\"}]},"
				"\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"_a_b\": 1}, \"unk_token\": \"[UNK]\"}}",
				"  a b ", "1:2:5");
	check_split("{\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"\\\\d+\"}, \"content\": \"#\"}, \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"},"
				"\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"#\": 1}, \"unk_token\": \"[UNK]\"}}",
				"12 345", "1:1:2 1:5:6");
	check_split("{\"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": true, \"handle_chinese_chars\": true, \"strip_accents\": false, \"lowercase\": false},"
				"\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"\xc3\x89\": 1, \"\xe5\x8c\x97\": 2}, \"unk_token\": \"[UNK]\"}}",
				"\xc3\x89\x01\xe5\x8c\x97", "1:0:2 2:3:6");
}

TEST(tokenizer_wordpiece)
{
	pgml_tokenizer *t = load("{\"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"}, \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\", \"cleanup\": true},"
							 "\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\", \"max_input_chars_per_word\": 9,"
							 "\"vocab\": {\"[UNK]\": 0, \"un\": 1, \"##aff\": 2, \"##able\": 3, \"a\": 4, \"##b\": 5}}}");
	int32_t		ids[] = {1, 2, 3, 4};

	REQUIRE(t != NULL);
	CHECK_STR(enc_str(t, "unaffable ab abc aaaaaaaaab", false), "1:0:2 2:2:5 3:5:9 4:10:11 5:11:12 0:13:16 0:17:27");
	CHECK_STR(dec_str(t, ids, 4, false), "unaffable a");
	pgml_tokenizer_free(t);
}

TEST(tokenizer_bpe)
{
	/* merges as strings and as pairs give the same model */
	const char *vocab = "\"vocab\": {\"<unk>\": 0, \"a\": 1, \"b\": 2, \"c\": 3, \"ab\": 4, \"abc\": 5, \"bc\": 6, \"<0x7A>\": 7}";
	char		j1[1024],
				j2[1024];
	pgml_tokenizer *t1,
			   *t2;

	snprintf(j1, sizeof(j1), "{\"model\": {\"type\": \"BPE\", %s, \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": true, \"merges\": [\"a b\", \"ab c\", \"b c\"]},"
			 "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}}", vocab);
	snprintf(j2, sizeof(j2), "{\"model\": {\"type\": \"BPE\", %s, \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": true, \"merges\": [[\"a\", \"b\"], [\"ab\", \"c\"], [\"b\", \"c\"]]},"
			 "\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}]}}", vocab);
	t1 = load(j1);
	t2 = load(j2);
	REQUIRE(t1 != NULL && t2 != NULL);
	/* abc → ab+c → abc; bcab → bc ab (rank order); z via byte fallback; xy fused unknown */
	CHECK_STR(enc_str(t1, "abc", false), "5:0:3");
	CHECK_STR(enc_str(t1, "bcab", false), "6:0:2 4:2:4");
	CHECK_STR(enc_str(t1, "zxya", false), "7:0:1 0:1:3 1:3:4");
	CHECK_STR(enc_str(t2, "abc", false), "5:0:3");
	CHECK_STR(enc_str(t2, "zxya", false), "7:0:1 0:1:3 1:3:4");
	{
		int32_t		ids[] = {7, 5, 0};

		CHECK_STR(dec_str(t1, ids, 3, false), "zabc<unk>");
	}
	pgml_tokenizer_free(t1);
	pgml_tokenizer_free(t2);
	/* a long word merges in n log n: 20,000 "a" collapse pairwise */
	{
		pgml_tokenizer *t = load("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"aa\": 1, \"aaaa\": 2}, \"merges\": [\"a a\", \"aa aa\"]}}");
		char	   *big = malloc(20001);
		pgml_encoding e;
		pgml_err	err;

		REQUIRE(t != NULL && big != NULL);
		memset(big, 'a', 20000);
		CHECK_INT(pgml_tokenizer_encode(t, big, 20000, NULL, 0, NULL, &e, &err), PGML_OK);
		CHECK_INT(e.n, 5000);
		CHECK_INT(e.ids[4999], 2);
		CHECK_INT(e.offsets[2 * 4999], 19996);
		pgml_encoding_free(&e);
		free(big);
		pgml_tokenizer_free(t);
	}
}

TEST(tokenizer_unigram)
{
	pgml_tokenizer *t = load("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\u2581\", \"prepend_scheme\": \"always\"},"
							 "\"decoder\": {\"type\": \"Metaspace\", \"replacement\": \"\u2581\", \"prepend_scheme\": \"always\"},"
							 "\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0], [\"\u2581\", -2], [\"\u2581ab\", -3],"
							 "[\"a\", -2], [\"b\", -2], [\"\u2581a\", -1.5], [\"c\", -4]]}}");
	int32_t		ids[] = {2, 5, 6};

	REQUIRE(t != NULL);
	/* ▁ab (-3) beats ▁a + b (-3.5); unknown characters fuse into one <unk> */
	CHECK_STR(enc_str(t, "ab", false), "2:0:2");
	CHECK_STR(enc_str(t, "abxyc", false), "2:0:2 0:2:4 6:4:5");
	CHECK_STR(dec_str(t, ids, 3, false), "ab ac");
	pgml_tokenizer_free(t);
}

TEST(tokenizer_added_tokens)
{
	pgml_tokenizer *t = load("{\"added_tokens\": ["
							 "{\"id\": 10, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
							 "{\"id\": 11, \"content\": \"[mask]\", \"special\": true, \"lstrip\": true, \"rstrip\": true, \"normalized\": false},"
							 "{\"id\": 12, \"content\": \"word\", \"special\": false, \"single_word\": true, \"normalized\": true}],"
							 "\"normalizer\": {\"type\": \"Lowercase\"}, \"pre_tokenizer\": {\"type\": \"WhitespaceSplit\"},"
							 "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
							 "\"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 1}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],"
							 "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [10], \"tokens\": [\"<s>\"]}}},"
							 "\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"[UNK]\": 0, \"a\": 1, \"words\": 2}, \"unk_token\": \"[UNK]\"}}");
	pgml_encoding e;
	pgml_err	err;

	REQUIRE(t != NULL);
	CHECK_STR(enc_str(t, "a<s>a", false), "1:0:1 10:1:4 1:4:5");
	CHECK_STR(enc_str(t, "a  [mask]  a", false), "1:0:1 11:1:11 1:11:12");
	/* normalized added token matched after lowercasing; single_word keeps "words" whole */
	CHECK_STR(enc_str(t, "WORD words", false), "12:0:4 2:5:10");
	CHECK_STR(enc_str(t, "a", true), "10:0:0 1:0:1");
	CHECK_INT(pgml_tokenizer_vocab_size(t), 6);
	CHECK_INT(pgml_tokenizer_token_to_id(t, "[mask]"), 11);
	CHECK_INT(pgml_tokenizer_encode(t, "a", 1, "a a", 3, NULL, &e, &err), PGML_OK);
	CHECK_INT(e.n, 4);
	CHECK_INT(e.ids[1], 10);
	CHECK_INT(e.type_ids[1], 1);
	CHECK_INT(e.type_ids[3], 1);
	CHECK_INT(e.offsets[2 * 3], 2);
	pgml_encoding_free(&e);
	{
		int32_t		ids[] = {10, 1, 11, 12};

		CHECK_STR(dec_str(t, ids, 4, true), "a word");
	}
	pgml_tokenizer_free(t);
}

TEST(tokenizer_decoders)
{
	pgml_tokenizer *t = load("{\"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\": {\"String\": \"\u2581\"}, \"content\": \" \"},"
							 "{\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"}, {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]},"
							 "\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"\u2581hi\": 0, \"<0xE2>\": 1, \"<0x82>\": 2, \"<0xAC>\": 3, \"<0xFF>\": 4, \"\u2581there\": 5}}}");
	int32_t		a[] = {0, 1, 2, 3, 5};
	int32_t		b[] = {0, 4, 5};

	REQUIRE(t != NULL);
	CHECK_STR(dec_str(t, a, 5, false), "hi\xe2\x82\xac there");
	CHECK_STR(dec_str(t, b, 3, false), "hi\xef\xbf\xbd there");
	CHECK_STR(dec_str(t, NULL, 0, false), "");
	pgml_tokenizer_free(t);
	t = load("{\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"hi\": 0, \"\u0120there\": 1, \"\u00c3\": 2, \"\u00a9\": 3}}}");
	{
		int32_t		c[] = {0, 1, 2, 3};

		REQUIRE(t != NULL);
		CHECK_STR(dec_str(t, c, 4, false), "hi there\xc3\xa9");
		CHECK_STR(dec_str(t, c, 3, false), "hi there\xef\xbf\xbd");
	}
	pgml_tokenizer_free(t);
}

/* ---------------------------------------------------------------------------------------------------
 * Out of memory and threads
 * ------------------------------------------------------------------------------------------------- */

static long g_budget = -1;

static void *
oom_alloc(size_t n, void *st)
{
	(void) st;
	if (g_budget == 0)
		return NULL;
	if (g_budget > 0)
		g_budget--;
	return malloc(n);
}

static void *
oom_realloc(void *p, size_t n, void *st)
{
	(void) st;
	if (g_budget == 0)
		return NULL;
	if (g_budget > 0)
		g_budget--;
	return realloc(p, n);
}

static void
oom_free(void *p, void *st)
{
	(void) st;
	free(p);
}

TEST(tokenizer_out_of_memory)
{
	static const pgml_allocator a = {oom_alloc, oom_realloc, oom_free, NULL};
	const char *json = "{\"added_tokens\": [{\"id\": 9, \"content\": \"<s>\", \"special\": true}],"
		"\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFKC\"}, {\"type\": \"Lowercase\"}]},"
		"\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true},"
		"\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [9], \"tokens\": [\"<s>\"]}}},"
		"\"decoder\": {\"type\": \"ByteLevel\"},"
		"\"model\": {\"type\": \"BPE\", \"vocab\": {\"\u0120\": 0, \"a\": 1, \"\u0120a\": 2, \"b\": 3, \"\u0120ab\": 4}, \"merges\": [\"\u0120 a\", \"\u0120a b\"]}}";
	int			load_ok = 0,
				enc_ok = 0,
				dec_ok = 0;

	pgml_set_allocator(&a);
	for (long budget = 0; budget < 400 && !(load_ok && enc_ok && dec_ok); budget++)
	{
		pgml_tokenizer *t = NULL;
		pgml_err	err;
		pgml_encoding e;
		pgml_status st;
		char	   *d;
		int32_t		ids[] = {9, 4, 2};

		g_budget = budget;
		st = pgml_tokenizer_load_json(json, strlen(json), &t, &err);
		if (st != PGML_OK)
		{
			/* jansson reports its own allocation failures as a parse error */
			if (st != PGML_ERR_OUT_OF_MEMORY && strcmp(err.msg, "invalid JSON in tokenizer.json") != 0)
				test_fail(__FILE__, __LINE__, "load with budget %ld: %s %s", budget, err.msg, err.detail);
			continue;
		}
		load_ok = 1;
		g_budget = budget;
		st = pgml_tokenizer_encode(t, "AB ab <s>", 9, NULL, 0, NULL, &e, &err);
		if (st == PGML_OK)
		{
			enc_ok = 1;
			CHECK_INT(e.n, 5);
			pgml_encoding_free(&e);
		}
		else
			CHECK_INT(st, PGML_ERR_OUT_OF_MEMORY);
		g_budget = budget;
		st = pgml_tokenizer_decode(t, ids, 3, true, &d, &err);
		if (st == PGML_OK)
		{
			dec_ok = 1;
			CHECK_STR(d, " ab a");
			pgml_free(d);
		}
		else
			CHECK_INT(st, PGML_ERR_OUT_OF_MEMORY);
		g_budget = -1;
		pgml_tokenizer_free(t);
	}
	g_budget = -1;
	pgml_set_allocator(NULL);
	CHECK(load_ok && enc_ok && dec_ok);
}

typedef struct thr_arg
{
	const pgml_tokenizer *t;
	int			bad;
} thr_arg;

static void *
thr_main(void *p)
{
	thr_arg    *a = p;
	const char *texts[] = {"Hello, world! Café 北京", "the quick brown fox", "😀 emoji 👍🏽 and ＣＪＫ"};

	for (int r = 0; r < 200; r++)
	{
		pgml_encoding e;
		pgml_err	err;
		const char *s = texts[r % 3];

		if (pgml_tokenizer_encode(a->t, s, strlen(s), NULL, 0, NULL, &e, &err) != PGML_OK || e.n != 128 ||
			e.ids[0] != 101)
			a->bad++;
		pgml_encoding_free(&e);
	}
	return NULL;
}

TEST(tokenizer_threads)
{
	pgml_tokenizer *t = NULL;
	pgml_err	err;
	pthread_t	th[4];
	thr_arg		args[4];

	REQUIRE(pgml_tokenizer_load_file(fixture_path("bert-minilm.json"), &t, &err) == PGML_OK);
	for (int i = 0; i < 4; i++)
	{
		args[i].t = t;
		args[i].bad = 0;
		pthread_create(&th[i], NULL, thr_main, &args[i]);
	}
	for (int i = 0; i < 4; i++)
	{
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].bad, 0);
	}
	pgml_tokenizer_free(t);
}

/* pad = false drops tokenizer.json's padding (Fixed 128 in all-MiniLM's): callers pad batches themselves. */
TEST(tokenizer_pad_option_skips_fixed_padding)
{
	pgml_tokenizer *t = NULL;
	pgml_err	err;
	pgml_encoding e;
	pgml_encode_opts o;
	const char *s = "hello world";

	REQUIRE(pgml_tokenizer_load_file(fixture_path("bert-minilm.json"), &t, &err) == PGML_OK);
	pgml_encode_opts_init(&o);
	CHECK(o.pad);
	memset(&e, 0, sizeof(e));
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), NULL, 0, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.n, 128);
	CHECK_INT(e.attention_mask[4], 0);
	pgml_encoding_free(&e);
	o.pad = false;
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), NULL, 0, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.n, 4);
	CHECK_INT(e.ids[0], 101);
	CHECK_INT(e.ids[3], 102);
	o.pad_to = 6;
	pgml_encoding_free(&e);
	REQUIRE(pgml_tokenizer_encode(t, s, strlen(s), NULL, 0, &o, &e, &err) == PGML_OK);
	CHECK_INT(e.n, 6);
	pgml_encoding_free(&e);
	pgml_tokenizer_free(t);
}
