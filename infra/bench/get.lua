-- A GET for wrk (infra/bench/bench.sh), counted like every row.
dofile(os.getenv("BENCH_LUA_DIR") .. "/status.lua")

wrk.method = "GET"
