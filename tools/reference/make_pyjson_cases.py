#!/usr/bin/env python3
"""Writes src/test/resources/chat/pyjson-cases.json: JSON texts and what CPython's json.loads + json.dumps(ensure_ascii=False)
make of them. DeepSeek's encoder puts exactly that serialisation into prompts (tool schemas, non-string arguments),
so PyJsonTest checks our emulation against CPython itself. Run: python3 tools/reference/make_pyjson_cases.py"""
import json, math, random, struct, sys

rnd = random.Random(20261123)

def rand_float():
    k = rnd.randrange(7)
    if k == 0:
        return struct.unpack('<d', struct.pack('<Q', rnd.getrandbits(64)))[0]  # any bit pattern
    if k == 1:
        return rnd.choice([0.0, -0.0, 1e16, 1e-4, 1e-5, 9999999999999998.0, 1e15, 0.1, 1/3, 5e-324, 1.7976931348623157e308, 2.5e-5, 123456789012345680.0])
    if k == 2:
        return float(rnd.randrange(-10**6, 10**6)) / rnd.choice([1, 2, 4, 8, 10, 100, 1000])
    return rnd.uniform(-1, 1) * 10 ** rnd.randrange(-30, 30)

def rand_string():
    pool = ['a', 'Z', '"', '\\', '/', '\n', '\r', '\t', '\b', '\f', '\x00', '\x01', '\x1f', '\x7f', '\x85', '\u2028', '\u2029',
            'é', '中', '😀', ' ', '<', '>', '&', "'", '\ufeff', '\u200b']
    return ''.join(rnd.choice(pool) for _ in range(rnd.randrange(8)))

def rand_value(depth):
    k = rnd.randrange(8 if depth > 0 else 6)
    if k == 0: return rand_string()
    if k == 1: return rnd.choice([rnd.randrange(-1000, 1000), rnd.getrandbits(100) - 2**99, 12345678901234567890])
    if k == 2: return rand_float()
    if k == 3: return rnd.choice([True, False])
    if k == 4: return None
    if k == 5: return rand_float()
    if k == 6: return [rand_value(depth - 1) for _ in range(rnd.randrange(4))]
    return {rand_string(): rand_value(depth - 1) for _ in range(rnd.randrange(4))}

cases = []
# Hand-picked texts: number spellings, duplicate keys, non-finite values, escapes.
for text in ['{"a": 1E5, "b": 1.10, "c": 12345678901234567890, "d": -0.0, "e": 1e16, "f": 0.0001, "g": 0.00001}',
             '{"k": 1, "j": 2, "k": 3}', '[NaN, Infinity, -Infinity, 1e400, -1e400]', '"\\u00e9\\ud83d\\ude00\\u001f\\u007f"',
             '{"x":[1,2,{"y":null}],"z":{}}', '[1.0, 100.0, 1e-7, 1.5e300, 0.5, 2e0, -3E-2]', '"a\\/b"', '{"":""}', '[[]]']:
    cases.append(text)
for _ in range(600):
    v = rand_value(3)
    cases.append(json.dumps(v, ensure_ascii=rnd.random() < 0.5, indent=rnd.choice([None, None, 1]),
                            separators=rnd.choice([None, (',', ':')])))
out = [{"input": t, "dumps": json.dumps(json.loads(t), ensure_ascii=False)} for t in cases]
json.dump(out, open(sys.argv[1] if len(sys.argv) > 1 else 'src/test/resources/chat/pyjson-cases.json', 'w'), ensure_ascii=True, indent=0)
print(len(out), "cases,", sys.version.split()[0])
