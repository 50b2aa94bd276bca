-- wrk script of the load harness (benches/load/run): builds the requests of one scenario for
-- one target, and prints the results as one machine-readable line.
--
-- Arguments (after `--` on the wrk command line): SCENARIO TARGET USERS PREFIX
--   SCENARIO  get | filter | create | patch | mixed
--   TARGET    gateway (SCIM, /scim/v2) | direct or passthrough (Acme HR's own API)
--   USERS     ids 1..USERS exist, with logins seed.user<id> (examples/legacy_api.rs seeds them)
--   PREFIX    makes the userNames of `create` unique across runs
-- Environment: LOAD_TOKEN (the SCIM bearer token), LOAD_KEY (Acme HR's API key).
--
-- The legacy-side request of each scenario is what the gateway itself sends for the SCIM one:
--   get     GET /scim/v2/Users/{id}                        | GET /api/v1/users/{id}
--   filter  GET /scim/v2/Users?filter=userName eq "..."     | GET /api/v1/users?login=...
--   create  POST /scim/v2/Users (Entra's create body)       | POST /api/v1/users
--   patch   PATCH /scim/v2/Users/{id} (replace title)       | PUT /api/v1/users/{id}
--   mixed   Entra's cycle per user: match by filter, GET by id, PATCH; on the legacy side the
--           login query, GET by id, PUT.
-- No `response` callback: wrk then does not copy bodies into Lua, and counts status >= 400 as
-- errors by itself.

local scenario, target, users, prefix
local headers_get, headers_body
local counter = 0
local step = 0
local current = 1

-- setup() runs in the main Lua state, once per thread, before the threads start.
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

function init(args)
  scenario = args[1] or "get"
  target = args[2] or "gateway"
  users = tonumber(args[3] or "1000")
  prefix = args[4] or "load"
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  if target == "gateway" then
    local auth = "Bearer " .. (os.getenv("LOAD_TOKEN") or "")
    headers_get = { ["Authorization"] = auth, ["Accept"] = "application/scim+json" }
    headers_body = { ["Authorization"] = auth, ["Accept"] = "application/scim+json",
                     ["Content-Type"] = "application/scim+json" }
  else
    local key = os.getenv("LOAD_KEY") or ""
    headers_get = { ["X-Acme-Api-Key"] = key, ["Accept"] = "application/json" }
    headers_body = { ["X-Acme-Api-Key"] = key, ["Accept"] = "application/json",
                     ["Content-Type"] = "application/json" }
  end
end

local function random_id()
  return math.random(1, users)
end

local function get(id)
  if target == "gateway" then
    return wrk.format("GET", "/scim/v2/Users/" .. id, headers_get)
  end
  return wrk.format("GET", "/api/v1/users/" .. id, headers_get)
end

local function match(id)
  if target == "gateway" then
    -- Entra is a .NET client: the filter is form-encoded, spaces as '+' (docs/idp/entra.md).
    return wrk.format("GET", "/scim/v2/Users?filter=userName+eq+%22seed.user" .. id .. "%22",
                      headers_get)
  end
  return wrk.format("GET", "/api/v1/users?login=seed.user" .. id, headers_get)
end

local function create()
  counter = counter + 1
  local name = prefix .. "-" .. (tid or 0) .. "-" .. counter
  if target == "gateway" then
    -- Entra's create body (docs/idp/entra.md).
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",'
      .. '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],'
      .. '"externalId":"' .. name .. '","userName":"' .. name .. '@contoso.com","active":true,'
      .. '"emails":[{"primary":true,"type":"work","value":"' .. name .. '@contoso.com"}],'
      .. '"meta":{"resourceType":"User"},'
      .. '"name":{"formatted":"Load Test","familyName":"Test","givenName":"Load"},'
      .. '"roles":[]}'
    return wrk.format("POST", "/scim/v2/Users", headers_body, body)
  end
  local body = '{"login":"' .. name .. '@contoso.com","external_ref":"' .. name .. '",'
    .. '"first_name":"Load","last_name":"Test","status":"enabled",'
    .. '"email":"' .. name .. '@contoso.com","source":"scim"}'
  return wrk.format("POST", "/api/v1/users", headers_body, body)
end

local function update(id)
  counter = counter + 1
  local title = "Title " .. counter
  if target == "gateway" then
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
      .. '"Operations":[{"op":"Replace","path":"title","value":"' .. title .. '"}]}'
    return wrk.format("PATCH", "/scim/v2/Users/" .. id, headers_body, body)
  end
  -- A full-replace PUT with the seeded user's fields, as the gateway sends it (mode: full).
  local login = "seed.user" .. id
  local body = '{"id":' .. id .. ',"login":"' .. login .. '","external_ref":"seed-' .. id .. '",'
    .. '"display_name":"Seed User ' .. id .. '","first_name":"Seed","last_name":"User' .. id .. '",'
    .. '"job_title":"' .. title .. '","employment_type":"Employee","language":"en",'
    .. '"locale":"en-US","time_zone":"America/New_York","status":"enabled",'
    .. '"email":"' .. login .. '@example.com","work_phone":"+1 555 0001",'
    .. '"address":{"street":"' .. id .. ' Main Street","city":"Springfield","state":"IL",'
    .. '"zip":"62701","country":"US"},"employee_no":"E' .. id .. '","department":"Sales",'
    .. '"cost_center":"CC-1","organization":"Acme","source":"scim"}'
  return wrk.format("PUT", "/api/v1/users/" .. id, headers_body, body)
end

function request()
  if scenario == "get" then
    return get(random_id())
  elseif scenario == "filter" then
    return match(random_id())
  elseif scenario == "create" then
    return create()
  elseif scenario == "patch" then
    return update(random_id())
  end
  -- mixed: the three steps of Entra's cycle on one user, then the next user.
  step = step % 3 + 1
  if step == 1 then
    current = random_id()
    return match(current)
  elseif step == 2 then
    return get(current)
  end
  return update(current)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d "
      .. "status_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
