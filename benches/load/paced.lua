-- wrk script of the load harness (benches/load/run): the requests of requests.lua, paced.
-- Each connection waits LOAD_DELAY_MS between a response and its next request, so that the
-- offered load stays below saturation and latency shows processing, not queueing.
-- Debian's wrk has no constant-rate mode (that is wrk2); this is the closest it can do.
dofile((os.getenv("LOAD_DIR") or ".") .. "/requests.lua")

local delay_ms = tonumber(os.getenv("LOAD_DELAY_MS") or "0")

function delay()
  return delay_ms
end
