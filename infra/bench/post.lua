-- A form POST for wrk (infra/bench/bench.sh): the body from $BENCH_BODY, and an Authorization
-- header from $BENCH_AUTHORIZATION when set (client_secret_basic).
dofile(os.getenv("BENCH_LUA_DIR") .. "/status.lua")

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
