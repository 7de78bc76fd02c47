-- allocation churn: 10^6 short-lived tables must not exhaust a 64 MiB guest
local keep = {}
local sum = 0
for i = 1, 1000000 do
  local t = {i, i * 2, name = "x"}
  sum = sum + t[2]
  if i % 100000 == 0 then keep[#keep + 1] = t end
end
print(sum, #keep, keep[3][1])
local s = 0
for i = 1, 200000 do
  local str = "item" .. i
  s = s + #str
end
print(s)
local parts = {}
for i = 1, 20000 do parts[#parts + 1] = tostring(i) end
print(#table.concat(parts))
local function mk(n) local c = 0; return function() c = c + n; return c end end
local acc = 0
for i = 1, 300000 do acc = acc + mk(i)() end
print(acc)
local big = {}
for i = 1, 200000 do big[i] = {i} end
big = nil
local after = {}
for i = 1, 100 do after[i] = i end
print(#after)
