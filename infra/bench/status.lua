-- Shared by the benchmark's wrk scripts (infra/bench/bench.sh): counts every answer by status
-- and, for 4xx/5xx, by its OAuth `error`, and prints one machine-readable line at the end:
--   BENCH requests=N duration_us=N p50_us=N p99_us=N socket_errors=N mix=200:N,400 slow_down:N
-- Each wrk thread has its own Lua state: `counts` is global so `done` can collect it per thread.
counts = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  if status >= 400 and body then
    local err = string.match(body, '"error"%s*:%s*"([^"]+)"')
    if err then
      key = key .. " " .. err
    end
  end
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c or {}) do
      total[k] = (total[k] or 0) + v
    end
  end
  local keys = {}
  for k in pairs(total) do
    table.insert(keys, k)
  end
  table.sort(keys)
  local mix = {}
  for _, k in ipairs(keys) do
    table.insert(mix, k .. ":" .. total[k])
  end
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d mix=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(mix, ",")))
end
