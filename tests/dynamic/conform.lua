-- conform.lua: Lua 5.4 features the retired subset lacked, printed deterministically;
-- test_linux_dynamic.c compares a guest's output with the host lua5.4's.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib", fib(20))

-- coroutines
local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i * i) end end)
print("co", gen(), gen(), gen())
local co = coroutine.create(function(a, b) local c = coroutine.yield(a + b); return c * 2 end)
print("resume", coroutine.resume(co, 1, 2))
print("resume", coroutine.resume(co, 10))
print("status", coroutine.status(co))

-- goto
local s = 0
for i = 1, 10 do
	if i % 2 == 0 then goto continue end
	s = s + i
	::continue::
end
print("goto", s)

-- patterns
print("gsub", ("hello world from lua"):gsub("(%w+)", "<%1>"))
print("match", ("key = value"):match("^(%w+)%s*=%s*(%w+)$"))
for k, v in ("a=1, b=2, c=3"):gmatch("(%w+)=(%w+)") do io.write(k, v, ";") end
print()
print("find", ("x.y.z"):find(".", 1, true), ("%d+"):rep(2, "|"))

-- load, tail calls, varargs, integer division, utf8
local f = load("local a, b = ... return a * b")
print("load", f(6, 7))
local function count(n, acc) if n == 0 then return acc end return count(n - 1, acc + 1) end
print("tail", count(100000, 0))
print("vararg", select("#", nil, nil, 3), select(2, "a", "b", "c"))
print("ints", 7 // 2, 7 % -3, 2^53, math.maxinteger, 3 | 5, 6 & 3, 1 << 10, 7.0 // 2)
print("utf8", utf8.char(72, 228, 8364, 128512), utf8.len("häll€"))

-- metatables, closures, errors
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end
V.__tostring = function(v) return "V(" .. v.x .. ")" end
print("meta", tostring(setmetatable({x = 1}, V) + setmetatable({x = 2}, V)))
local function counter() local n = 0 return function() n = n + 1 return n end end
local c1, c2 = counter(), counter()
print("closure", c1(), c1(), c2())
print("pcall", pcall(error, {code = 7}) , select(2, pcall(error, "msg", 0)))
print("xpcall", xpcall(function() error("deep", 0) end, function(m) return "handled: " .. m end))

-- tables and strings
local t = {}
for i = 1, 10 do t[#t + 1] = i * 3 % 7 end
table.sort(t)
print("sort", table.concat(t, ","))
print("format", string.format("%5.2f|%-5s|%05d|%x|%q", math.pi, "ab", 42, 255, "a\nb"))
print("pack", string.unpack("<i4", string.pack("<i4", -2)), #string.pack("z", "abc"))
