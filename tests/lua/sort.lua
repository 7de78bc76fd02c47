local t = {5, 2, 8, 1, 9, 3, 7, 4, 6, 0}
table.sort(t) print(table.concat(t, " "))
table.sort(t, function(a, b) return a > b end) print(table.concat(t, " "))
local words = {"pear", "apple", "fig", "banana", "kiwi"}
table.sort(words) print(table.concat(words, ","))
table.sort(words, function(a, b) return #a < #b or (#a == #b and a < b) end) print(table.concat(words, ","))
local recs = {}
for i = 1, 200 do recs[i] = {id = i, key = (i * 37) % 101} end
table.sort(recs, function(a, b) if a.key ~= b.key then return a.key < b.key end return a.id < b.id end)
local ok = true
for i = 2, #recs do if recs[i-1].key > recs[i].key then ok = false end end
print(ok, recs[1].id, recs[200].id)
local big = {}
local x = 12345
for i = 1, 10000 do x = (x * 1103515245 + 12345) % 2147483648; big[i] = x end
table.sort(big)
local sorted = true
for i = 2, #big do if big[i-1] > big[i] then sorted = false end end
print(sorted, #big)
local l = {}
table.insert(l, "a") table.insert(l, 1, "b") table.insert(l, 2, "c")
print(table.concat(l, ","), table.remove(l), table.remove(l, 1), #l, l[1])
print(pcall(table.sort, {3, 1, "x"}))
print(table.unpack({1, 2, 3}, 2), table.unpack({1, 2, 3}, 2, 3))
local p = table.pack(1, nil, 3) print(p.n, p[1], p[3])
print(table.concat({1, 2.5, "x"}, "-"), table.concat({}, ","), table.concat({"a", "b", "c"}, ",", 2, 3))
