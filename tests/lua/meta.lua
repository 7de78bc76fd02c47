local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end
V.__eq = function(a, b) return a.x == b.x end
V.__lt = function(a, b) return a.x < b.x end
V.__le = function(a, b) return a.x <= b.x end
V.__tostring = function(a) return "V(" .. a.x .. ")" end
V.__len = function(a) return a.x end
V.__call = function(self, y) return self.x + y end
V.__concat = function(a, b) return "cat" end
V.__unm = function(a) return setmetatable({x = -a.x}, V) end
function V.new(x) return setmetatable({x = x}, V) end
function V:get() return self.x end
local a, b = V.new(1), V.new(2)
print(tostring(a + b), a == b, a < b, a <= b, a > b, #a, a(10), a .. "s", "s" .. a, tostring(-a), a:get())
print(V.new(3) == V.new(3), rawequal(V.new(3), V.new(3)))
local d = setmetatable({}, {__index = function(t, k) return k .. "!" end})
print(d.foo, d[1], rawget(d, "foo"))
local log = {}
local w = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k; rawset(t, k, v * 2) end})
w.a = 1; w.a = 5; w.b = 2
print(w.a, w.b, #log)
local base = {greet = function() return "hi" end}
local derived = setmetatable({}, {__index = base})
local more = setmetatable({}, {__index = derived})
print(more.greet())
print(getmetatable("abc").__index == string, getmetatable({}))
local p = setmetatable({}, {__metatable = "locked"})
print(getmetatable(p), pcall(setmetatable, p, {}))
print(rawlen({1, 2, 3}), rawlen("abcd"))
local cnt = setmetatable({}, {__index = function(t, k) return 0 end})
cnt.x = cnt.x + 1
print(cnt.x, cnt.y)
