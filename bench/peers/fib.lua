-- fib.lua: naive Fibonacci (peer of bench/fib.shoal).
--   lua5.4 fib.lua N K
-- Computes fib(N) K times in the timed section; prints ms per fib(N)
-- (os.clock: CPU time of this process, which is single-threaded; shoal and
-- BEAM time CPU too, with cpu-us and statistics(runtime)).
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local n, k = tonumber(arg[1]), tonumber(arg[2])
local t0 = os.clock()
local r = 0
for _ = 1, k do r = fib(n) end
local t1 = os.clock()
print(string.format("fib %d = %d", n, r))
print(string.format("RESULT value=%.3f unit=ms cpu_ms=%.3f count=%d",
                    (t1 - t0) * 1000 / k, (t1 - t0) * 1000, k))
