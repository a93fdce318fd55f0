-- wrk script for bench/run: POSTs one chat completion request per call and checks every response.
--
-- Environment (set by bench/run):
--   BENCH_BODY_FILE   path of the JSON request body
--   BENCH_EXPECT      a string every response body must contain ("[DONE]" for streams,
--                     "\"choices\"" otherwise); a response without it counts as bad
--   BENCH_AUTH        optional: a gateway key; when set and not empty, every request carries
--                     "Authorization: Bearer BENCH_AUTH"
--
-- done() prints one machine-readable line:
--   BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N bytes=N
--         non2xx=N badbody=N err_connect=N err_read=N err_write=N err_timeout=N err_status=N

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open BENCH_BODY_FILE " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

local body = slurp(os.getenv("BENCH_BODY_FILE"))
local expect = os.getenv("BENCH_EXPECT") or "\"choices\""

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. auth
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- No request() function: wrk then sends the static request built from wrk.method/body/headers
-- without calling into Lua per request.
function init(args)
  non2xx = 0
  badbody = 0
end

function response(status, headers, resp_body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif resp_body == nil or not string.find(resp_body, expect, 1, true) then
    badbody = badbody + 1
  end
end

function done(summary, latency, requests)
  local n2, bb = 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    bb = bb + (t:get("badbody") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d bytes=%d " ..
    "non2xx=%d badbody=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.bytes, n2, bb, e.connect, e.read, e.write, e.timeout, e.status))
end
