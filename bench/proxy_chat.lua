-- wrk script for bench/proxy.sh: POST a chat completion, streamed when BENCH_STREAM=true.
local token = os.getenv("BENCH_TOKEN") or "sk-bench"
local stream = os.getenv("BENCH_STREAM") == "true"
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-4o-mini","stream":' .. tostring(stream) ..
  ',"messages":[{"role":"user","content":"Say hello."}]}'
