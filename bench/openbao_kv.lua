-- wrk script: KV v2 read of a random one of BENCH_USERS per-user secrets in OpenBao.
local users = tonumber(os.getenv("BENCH_USERS") or "1000")
local token = os.getenv("BENCH_TOKEN")

wrk.method = "GET"
wrk.headers["X-Vault-Token"] = token

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
end

function request()
  local u = math.random(0, users - 1)
  return wrk.format(nil, "/v1/secret/data/users/u" .. u)
end
