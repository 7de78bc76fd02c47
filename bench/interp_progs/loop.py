# loop.py: a pure-Python loop, compute inside the interpreter (bench/interp.sh, part 4); ~1 s natively.
def main(n):
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1000003
    return acc


print(main(8_000_000))
