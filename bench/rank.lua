-- bench/rank.lua - Spearman's rank correlation for the cost model's benches
-- (bench/cost_validate.lua, bench/cost_recost.lua), loaded with dofile:
--   local rank = dofile(BENCH_DIR .. "rank.lua"); rank.spearman(x, y)
local rank = {}

--- The ranks of x (1..n), ties given their average rank.
function rank.ranks(x)
  local idx = {}
  for k = 1, #x do idx[k] = k end
  table.sort(idx, function(a, b) return x[a] < x[b] end)
  local r, k = {}, 1
  while k <= #idx do
    local j = k
    while j < #idx and x[idx[j + 1]] == x[idx[k]] do j = j + 1 end
    for t = k, j do r[idx[t]] = (k + j) / 2 end
    k = j + 1
  end
  return r
end

--- Spearman's rho of the paired lists x, y (0 when either is constant).
function rank.spearman(x, y)
  local rx, ry = rank.ranks(x), rank.ranks(y)
  local n = #x
  local m = (n + 1) / 2
  local sxy, sxx, syy = 0, 0, 0
  for k = 1, n do
    sxy = sxy + (rx[k] - m) * (ry[k] - m)
    sxx = sxx + (rx[k] - m) ^ 2
    syy = syy + (ry[k] - m) ^ 2
  end
  return (sxx > 0 and syy > 0) and sxy / math.sqrt(sxx * syy) or 0
end

return rank
