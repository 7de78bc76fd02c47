print("start")
local t = {}
local function g(a) return a.b.c end
print(pcall(g, t))
print(x + 1)
