local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
print(c1(), c1(), c2(), c1())
local fs = {}
for i = 1, 3 do fs[i] = function() return i end end
print(fs[1](), fs[2](), fs[3]())
local t = {}
local j = 0
while j < 3 do j = j + 1; local k = j * 10; t[j] = function() return k end end
print(t[1](), t[2](), t[3]())
local function mk()
  local a = 1
  local function get() return a end
  local function set(v) a = v end
  return get, set
end
local g, s = mk()
s(42) print(g())
local function va(...)
  local a, b = ...
  return select('#', ...), a, b, ...
end
print(va())
print(va(1, nil, 3))
print(select(2, "a", "b", "c"), select(-1, "a", "b", "c"))
local function pack2(...) return {...}, select('#', ...) end
local p, n = pack2(1, 2, nil)
print(#p, n)
print(table.unpack({1, 2, 3}))
local function multi() return 1, 2, 3 end
local x, y, z, w = multi()
print(x, y, z, w)
print(multi(), multi())
print((multi()))
local tt = {multi(), multi()}
print(#tt)
local a, b = 1
print(a, b)
a, b = b, a
print(a, b)
local r = {}
for i = 1, 5 do
  if i == 4 then break end
  r[#r + 1] = function() return i * 2 end
end
print(#r, r[3]())
repeat local q = 5; until q == 5
local n2 = 0
repeat n2 = n2 + 1 until n2 >= 3
print(n2)
local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end
print(fib(20))
local obj = {v = 1}
function obj:inc(d) self.v = self.v + (d or 1); return self end
obj:inc():inc(5)
print(obj.v)
local s2 = 0
for k, v in pairs({10, 20, 30}) do s2 = s2 + k * v end
print(s2)
for i, v in ipairs({"a", "b", nil, "d"}) do io.write(i, v, " ") end print()
local keys = {}
for k in pairs({x = 1, y = 2, z = 3}) do keys[#keys + 1] = k end
table.sort(keys) print(table.concat(keys, ","))
goto_ok = true
print(string.rep("ab", 3, "-"), ("x"):rep(3), ("hello"):sub(2, 3), ("hello"):upper(), #("abc"):rep(10))
print(("hello world"):find("o w"), ("hello"):find("l", 1, true), ("a,b,c"):gsub(",", "-"))
print(string.byte("ABC", 1, 3), string.char(72, 105), ("test"):byte(-1), ("hello"):sub(-3), ("hello"):sub(2), ("x"):sub(5))
