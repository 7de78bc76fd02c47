-- fib.lua: naive recursive Fibonacci, compute inside the interpreter (bench/interp.sh, part 4).
local function fib(n)
	if n < 2 then return n end
	return fib(n - 1) + fib(n - 2)
end
print(fib(32))
