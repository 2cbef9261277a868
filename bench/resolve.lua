-- wrk script: POST /v1/resolve for a random one of BENCH_USERS users.
local users = tonumber(os.getenv("BENCH_USERS") or "1000")
local token = os.getenv("BENCH_TOKEN")

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
end

function request()
  local u = math.random(0, users - 1)
  return wrk.format(nil, "/v1/resolve", nil, '{"provider":"openai","user":"u' .. u .. '"}')
end
