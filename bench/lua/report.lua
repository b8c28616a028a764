-- Plain GET benchmark (method, URL and headers come from the wrk command line). No
-- response() callback on purpose: defining one makes wrk hand every response to Lua, which
-- costs client CPU that the server (same 2 cores) would otherwise get.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

function done(summary, latency, requests)
   bench_summary(summary, latency)
end
