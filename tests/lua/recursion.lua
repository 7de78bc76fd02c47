local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
print(depth(10000))
local function sum(n) if n == 0 then return 0 end return n + sum(n - 1) end
print(sum(50000))
local function inf(n) return 1 + inf(n + 1) end
local ok, err = pcall(inf, 1)
print(ok, (string.find(err, "stack overflow", 1, true)) ~= nil)
local function inf2() local t = {} ; t[1] = inf2() ; return t end
ok, err = pcall(inf2)
print(ok, (string.find(err, "stack overflow", 1, true)) ~= nil)
print(depth(100))
local mt = {}
mt.__index = function(t, k) return t[k .. "x"] end
ok, err = pcall(function() return setmetatable({}, mt).a end)
print(ok)
