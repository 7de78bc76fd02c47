local t = {}
for i = 1, 2000000 do t[i] = i * 2 end
local s = 0
for j = 1, 5 do for i = 1, #t do s = s + t[i] end end
local h = {}
for i = 1, 200000 do h["k" .. (i % 1000)] = (h["k" .. (i % 1000)] or 0) + i end
local pts = {}
for i = 1, 300000 do pts[i] = {x = i, y = i + 1} end
local acc = 0
for i = 1, #pts do acc = acc + pts[i].x * pts[i].y end
print(s, h.k1, acc)
