# conform.py: Python features printed deterministically; test_linux_dynamic.c compares a
# guest's output with the host python3's.
import json, re, sys

class Shape:
    def __init__(self, name): self.name = name
    def area(self): raise NotImplementedError
    def __repr__(self): return f"{type(self).__name__}({self.name!r}, {self.area():.3f})"

class Square(Shape):
    def __init__(self, side): super().__init__("square"); self.side = side
    def area(self): return self.side ** 2

class Circle(Shape):
    def __init__(self, r): super().__init__("circle"); self.r = r
    def area(self): return 3.141592653589793 * self.r ** 2

print("classes", sorted([Square(3), Circle(1)], key=lambda s: s.area()))

class Oops(ValueError):
    pass

def risky(n):
    try:
        if n < 0:
            raise Oops(f"negative {n}")
        return 10 // n
    except ZeroDivisionError as e:
        return f"zero: {e}"
    finally:
        print("finally", n)

for n in (5, 0, -1):
    try:
        print("risky", risky(n))
    except Oops as e:
        print("caught", type(e).__name__, e, isinstance(e, ValueError))

def gen(n):
    for i in range(n):
        x = yield i * i
        if x:
            print("sent", x)

g = gen(4)
print("gen", next(g), g.send("hello"), list(g))
print("genexpr", sum(x for x in range(100) if x % 7 == 0))

doc = {"name": "mvmm", "nums": [1, 2.5, None, True], "nested": {"k": "välue"}}
text = json.dumps(doc, sort_keys=True)
print("json", text, json.loads(text) == doc, json.dumps("€", ensure_ascii=True))

print("re", re.findall(r"(\w+)@(\w+)\.com", "a@b.com, cc@dd.com"),
      re.sub(r"(?P<w>\d+)", lambda m: str(int(m["w"]) * 2), "1 22 333"))

print("bigint", 2 ** 200, 3 ** 100 % 1000007, (10 ** 30 + 1) // 7, -(2 ** 65) >> 3)
print("fact", len(str(__import__("math").factorial(500))))

s = "Grüße, 世界! 😀"
print("unicode", len(s), s.upper(), s.encode("utf-8").hex()[:24], ord(s[-1]), s[::-1])
print("format", f"{3.14159:8.3f}|{42:#x}|{'x':^5}|{1234567:,}")
print("sys", sys.version_info[:2] == (3, 11), sys.maxsize)
