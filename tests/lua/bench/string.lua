local parts = {}
for i = 1, 300000 do parts[#parts + 1] = "item" .. i .. "," end
local s = table.concat(parts)
local s2 = ""
for i = 1, 20000 do s2 = s2 .. "x" end
local n = 0
for i = 1, 200000 do local t = string.format("%d:%s", i, "v"); n = n + #t end
print(#s, #s2, n)
