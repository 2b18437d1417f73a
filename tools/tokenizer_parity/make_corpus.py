#!/usr/bin/env python3
"""Writes the tokenizer parity corpus (deterministic): corpus.jsonl (one JSON string per line) and
invalid.txt (hex-encoded byte strings that are not valid UTF-8). Run once; the outputs are committed."""
import json
import os
import random

R = random.Random(20261121)
HERE = os.path.dirname(os.path.abspath(__file__))

english = ["The quick brown fox jumps over the lazy dog.", "Hello, world!", "I can't believe it's not butter.",
           "They'll be here at 5 o'clock, won't they?", "MACHINE learning inside PostgreSQL", "e-mail: someone@example.com",
           "Don't stop believin'", "U.S.A. vs. U.K.", "It's 3.14159 or so", "state-of-the-art models",
           "Mr. O'Neil's dog's bone", "HELLO world HeLLo WoRLD", "supercalifragilisticexpialidocious",
           "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis"]
code = ["def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; i++) { sum += a[i]; }", "SELECT * FROM t WHERE id = 42;",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1); }", "const x = () => { return [1, 2, 3]; };",
        "if __name__ == '__main__':\n\tmain()", "x = {'a': 1, \"b\": [2, 3]}", "    indented\n        more\n",
        "<div class=\"x\">&nbsp;</div>", "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }", "a+=b;c-=d;e*=f;g/=h"]
numbers = ["12345678901234567890", "3.14 2.718 1.414", "1,000,000", "0x1F 0b1010 0o17", "2026-11-21T13:27:43Z",
           "+1 (555) 123-4567", "١٢٣٤٥", "一二三", "①②③", "½ ¾ ⅞", "10^6 = 1e6"]
emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸🇫🇷", "👩🏿‍💻", "🤷‍♂️", "😀😃😄😁", "a😀b", "🧑🏻‍🤝‍🧑🏽", "✋🏻✋🏼✋🏽✋🏾✋🏿"]
cjk = ["你好，世界！", "日本語のテキストです。", "한국어 텍스트", "東京都渋谷区", "中文文本处理很有趣", "ｶﾀｶﾅ ﾃｽﾄ", "漢字かなカナ",
       "𠀋𠂉𠃌", "我爱北京天安门", "こんにちは世界"]
thai = ["สวัสดีครับ", "ภาษาไทยไม่มีช่องว่าง", "กรุงเทพมหานคร"]
rtl = ["مرحبا بالعالم", "שלום עולם", "العربية: نص تجريبي", "עברית עם ניקוד: שָׁלוֹם", "mixed English و عربي"]
combining = ["e\u0301", "cafe\u0301", "café", "n\u0303", "Å", "A\u030a", "\u212b", "q\u0307\u0323", "e\u0323\u0302",
             "\u1112\u1161\u11ab", "한", "ﬁ ﬂ", "Ｆｕｌｌｗｉｄｔｈ", "x\u0300\u0301\u0302\u0303\u0304", "Ǆ ǅ ǆ", "İstanbul",
             "ΣΊΣΥΦΟΣ", "straße STRASSE", "Ⅻ", "ﷺ"]
ws = ["   ", "\t\t", "\n\n\n", "a    b", "a\tb\nc\r\nd", " leading", "trailing ", "  both  ", "\u00a0nbsp\u00a0",
      "\u3000ideographic\u3000space", "line1\n\nline3", "\u2028\u2029", " " * 40, "\n" * 20 + "x", "\t \n \r\n "]
control = ["\x00null", "bell\x07", "esc\x1b[0m", "\x7fdel", "zero\u200bwidth", "\ufeffbom", "soft\u00adhyphen",
           "\x01\x02\x03", "\u200d\u200c", "rtl\u202emark", "\ufffd replacement"]
added = ["<s>hello</s>", "a [CLS] b [SEP] c", "[MASK] is [UNK]", "<|endoftext|>text<|endoftext|>",
         "<|im_start|>user\nhi<|im_end|>", "<bos>x<eos>", "<|begin_of_text|>Hi", "x<unk>y", "<pad><pad>",
         "text <mask> text", "<start_of_turn>user\nhello<end_of_turn>"]
long_words = ["a" * 150, "ab" * 120, "x" * 1000, "😀" * 60, "漢" * 200, "longword" * 40, "-" * 300, "1" * 500]

base = english + code + numbers + emoji + cjk + thai + rtl + combining + ws + control + added + long_words + [""]
pool = [c for s in base for c in s]
words = [w for s in english + code + rtl + cjk + thai + emoji + numbers for w in s.split()]

out = list(base)
import unicodedata
for s in english + combining + cjk + rtl:
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        t = unicodedata.normalize(form, s)
        if t not in out:
            out.append(t)
while len(out) < 2100:
    k = R.random()
    if k < 0.35:
        s = " ".join(R.choice(words) for _ in range(R.randint(1, 12)))
    elif k < 0.55:
        s = "".join(R.choice(pool) for _ in range(R.randint(1, 40)))
    elif k < 0.7:
        s = R.choice(base) + R.choice(["", " ", "  ", "\n", "\t"]) + R.choice(base)
    elif k < 0.8:
        s = R.choice(words) + R.choice(added) + R.choice(words)
    elif k < 0.9:
        s = "".join(chr(R.choice([R.randint(0x20, 0x7e), R.randint(0xa0, 0x2fff), R.randint(0x3000, 0x9fff),
                                  R.randint(0x1f300, 0x1faff)])) for _ in range(R.randint(1, 30)))
    else:
        s = " " * R.randint(0, 5) + R.choice(words) + " " * R.randint(1, 30) + R.choice(words) + "\n" * R.randint(0, 3)
    out.append(s)

with open(os.path.join(HERE, "corpus.jsonl"), "w", encoding="utf-8") as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=True) + "\n")

invalid = [b"\xff", b"abc\xfe", b"\xc3", b"\xc3\x28", b"\xe2\x82", b"\xe2\x28\xa1", b"\xf0\x90\x28\xbc", b"\xed\xa0\x80",
           b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"hello \x80 world", b"\xf4\x90\x80\x80", b"ok\xe2\x82\xac\xe2",
           b"\xef\xbf", b"<s>\xff</s>"]
for i in range(25):
    b = bytearray(R.randint(0, 255) for _ in range(R.randint(1, 20)))
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        invalid.append(bytes(b))
with open(os.path.join(HERE, "invalid.txt"), "w") as f:
    for b in invalid:
        f.write(b.hex() + "\n")
print(len(out), "strings,", len(invalid), "invalid")
